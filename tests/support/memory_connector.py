"""A connector over rows held in a JSON file: a real source implementation for engine tests.

The file holds {"streams": {name: {"columns": {col: type}, "primary_key": [...], "rows": [...],
"deleted": [keys...]}}}. `pause_file`: after the first batch, the connector writes this file and
sleeps, so a test can kill the process mid-load.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from ipai_core.connectors.base import (
    Checkpoint,
    Column,
    Connector,
    Deletes,
    Item,
    ReadRequest,
    StreamSchema,
    SyncMode,
    SyncOptions,
)
from ipai_core.connectors.registry import register
from ipai_core.connectors.typespec import arrow_type
from ipai_core.errors import SourceError


class MemoryConfig(SyncOptions):
    data_file: str
    pause_file: str | None = None
    fail_with_secret: str | None = None  # the name of a secret to quote in a source error


@register
class MemoryConnector(Connector[MemoryConfig]):
    connector_type = "test_memory"
    config_model = MemoryConfig

    def _data(self) -> dict:  # type: ignore[type-arg]
        return json.loads(Path(self.config.data_file).read_text())["streams"]

    def discover(self) -> list[StreamSchema]:
        return [
            StreamSchema(
                name=name,
                columns=tuple(Column(c, arrow_type(t)) for c, t in spec["columns"].items()),
                primary_key=tuple(spec["primary_key"]),
                cursor_field=spec.get("cursor"),
                modes=frozenset(SyncMode),
                raw_text=spec.get("raw_text", False),
            )
            for name, spec in self._data().items()
        ]

    def read(self, request: ReadRequest) -> Iterator[Item]:
        if self.config.fail_with_secret:
            value = self.secrets[self.config.fail_with_secret].reveal()
            raise SourceError(f"login refused for password {value}")
        spec = self._data()[request.stream.name]
        cursor_field = spec.get("cursor")
        since = (request.cursor or {}).get("value")
        rows = [
            r
            for r in spec["rows"]
            if request.mode is SyncMode.FULL_REFRESH
            or cursor_field is None
            or since is None
            or r[cursor_field] > since
        ]
        schema = (
            pa.schema([(c.name, c.type) for c in request.stream.columns])
            if not request.stream.raw_text
            else pa.schema([(c.name, pa.string()) for c in request.stream.columns])
        )
        for i in range(0, len(rows), request.batch_rows):
            chunk = rows[i : i + request.batch_rows]
            yield pa.RecordBatch.from_pylist(
                [{k: r.get(k) for k in schema.names} for r in chunk], schema=schema
            )
            if i == 0 and self.config.pause_file:
                Path(self.config.pause_file).write_text("paused")
                time.sleep(600)
        if spec.get("deleted") and request.mode is not SyncMode.FULL_REFRESH:
            keys = spec["deleted"]
            yield Deletes(pa.RecordBatch.from_pylist(keys))
        if cursor_field and rows:
            yield Checkpoint({"value": max(r[cursor_field] for r in rows)})
