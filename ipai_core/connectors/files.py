"""File connector: CSV, Parquet, JSON and JSON Lines from a local path/glob or an S3-compatible
store, one stream per config. Incremental by file: only new or changed files are read (their
fingerprints are the cursor). Each file read is archived to the platform blob store."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Literal

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from ipai_core.connectors.base import (
    BadRecord,
    Checkpoint,
    Column,
    Connector,
    Item,
    ReadRequest,
    StreamSchema,
    SyncMode,
    SyncOptions,
    with_source,
)
from ipai_core.connectors.registry import register
from ipai_core.connectors.typespec import arrow_type, from_polars
from ipai_core.errors import ConfigError, SourceError
from ipai_core.storage.base import BlobInfo, BlobStore
from ipai_core.storage.locate import blob_store_from_url

FileFormat = Literal["csv", "parquet", "json", "jsonl"]
_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_SAMPLE_ROWS = 1000
# Bytes the CSV reader parses at a time; `_rebatched` regroups the blocks into `batch_rows`
# batches. 1 MiB blocks cost ~40 MiB more peak memory than these, for no measurable speed.
_CSV_BLOCK = 1 << 18
_SAMPLE_BYTES = 1 << 20  # the head of a CSV file that type inference reads


class CsvOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str = Field(default='"', min_length=1, max_length=1)
    has_header: bool = True
    encoding: str = "utf8"


class FileConnectorConfig(SyncOptions):
    url: str = Field(
        description="Path or glob: /data/in/*.csv, file:///…, s3://bucket/prefix/*.csv"
    )
    stream: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stream (and bronze table) name")
    primary_key: list[str] = Field(min_length=1)
    format: FileFormat | None = Field(default=None, description="Inferred from the extension")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Column types (e.g. decimal(12,2)); others inferred"
    )
    csv: CsvOptions = CsvOptions()
    archive: bool = True
    s3_endpoint_url: str | None = None
    s3_region: str | None = None


@register
class FileConnector(Connector[FileConnectorConfig]):
    """Files → bronze. Secrets (for S3): `access_key_id`, `secret_access_key` refs."""

    connector_type = "file"
    config_model = FileConnectorConfig

    def discover(self) -> list[StreamSchema]:
        files = self._files()
        columns = self._columns(files)
        missing = [k for k in self.config.primary_key if k not in columns]
        if missing:
            raise ConfigError(
                f"primary key column(s) `{', '.join(missing)}` are not in the files "
                f"of `{self.config.url}` (columns: {', '.join(columns)})"
            )
        raw = self._format(files[0].key) != "parquet" if files else True
        return [
            StreamSchema(
                name=self.config.stream,
                columns=tuple(
                    Column(name, t, nullable=name not in self.config.primary_key)
                    for name, t in columns.items()
                ),
                primary_key=tuple(self.config.primary_key),
                modes=frozenset({SyncMode.FULL_REFRESH, SyncMode.INCREMENTAL}),
                raw_text=raw,
            )
        ]

    def read(self, request: ReadRequest) -> Iterator[Item]:
        seen: dict[str, str] = dict((request.cursor or {}).get("files", {}))
        for info in self._files():
            if request.mode is SyncMode.INCREMENTAL and seen.get(info.key) == info.fingerprint:
                continue
            with self._store.open(info.key) as handle:
                yield from self._read_file(info, handle, request)
                self._archive(info, handle)
            seen[info.key] = info.fingerprint
            yield Checkpoint({"files": dict(seen)})

    # -- discovery -----------------------------------------------------------------------------

    @property
    def _store(self) -> BlobStore:
        return self._located()[0]

    def _located(self) -> tuple[BlobStore, str]:
        if not hasattr(self, "_location"):
            self._location = blob_store_from_url(
                self.config.url,
                credentials=self.secrets,
                endpoint_url=self.config.s3_endpoint_url,
                region=self.config.s3_region,
            )
        return self._location

    def _files(self) -> list[BlobInfo]:
        store, pattern = self._located()
        files = [f for f in store.list(pattern) if not f.key.endswith("/")]
        for info in files:
            self._format(info.key)  # refuse unknown extensions early, by name
        return files

    def _format(self, key: str) -> FileFormat:
        if self.config.format:
            return self.config.format
        suffix = PurePosixPath(key).suffix.lower()
        if suffix not in _EXTENSIONS:
            raise ConfigError(
                f"cannot tell the format of `{key}` from its extension; set "
                f"`format` to one of csv, parquet, json, jsonl"
            )
        return _EXTENSIONS[suffix]

    def _columns(self, files: list[BlobInfo]) -> dict[str, pa.DataType]:
        """Declared types first, then every column any file has, typed from a sample."""
        found: dict[str, pa.DataType] = {}
        declared = {name: arrow_type(spec) for name, spec in self.config.columns.items()}
        for info in files:
            with self._store.open(info.key) as handle:
                for name, t in self._sample_schema(info.key, handle, declared).items():
                    found.setdefault(name, t)
        return {
            **{n: declared.get(n, t) for n, t in found.items()},
            **{n: t for n, t in declared.items() if n not in found},
        }

    def _sample_schema(
        self, key: str, handle: BinaryIO, declared: dict[str, pa.DataType]
    ) -> dict[str, pa.DataType]:
        fmt = self._format(key)
        try:
            if fmt == "parquet":
                return {f.name: f.type for f in pq.ParquetFile(handle).schema_arrow}
            if fmt == "csv" and self.config.csv.has_header:
                header = _csv_header(handle, self.config.csv)
                if all(name in declared for name in header):  # nothing to infer: no sample
                    return {name: declared[name] for name in header}
            if fmt == "csv":
                sample = pl.read_csv(
                    _head(handle, _SAMPLE_BYTES),
                    n_rows=_SAMPLE_ROWS,
                    infer_schema_length=_SAMPLE_ROWS,
                    separator=self.config.csv.delimiter,
                    quote_char=self.config.csv.quote_char,
                    has_header=self.config.csv.has_header,
                    try_parse_dates=True,
                    truncate_ragged_lines=True,
                    ignore_errors=True,
                )
            else:
                rows = list(_json_rows(handle, fmt, key, limit=_SAMPLE_ROWS))
                sample = pl.DataFrame(
                    [r for r in rows if isinstance(r, dict)], infer_schema_length=_SAMPLE_ROWS
                )
        except (pl.exceptions.PolarsError, pa.ArrowException, ValueError) as exc:
            raise SourceError(f"cannot read `{key}` as {fmt}: {exc}") from exc
        return {name: from_polars(dtype) for name, dtype in sample.schema.items()}

    # -- reading -------------------------------------------------------------------------------

    def _read_file(self, info: BlobInfo, handle: BinaryIO, request: ReadRequest) -> Iterator[Item]:
        fmt = self._format(info.key)
        try:
            if fmt == "csv":
                yield from self._read_csv(info.key, handle, request)
            elif fmt == "parquet":
                yield from self._read_parquet(info.key, handle, request)
            else:
                yield from self._read_json(info.key, handle, fmt, request)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise SourceError(f"cannot read `{info.key}` as {fmt}: {exc}") from exc

    def _read_csv(self, key: str, handle: BinaryIO, request: ReadRequest) -> Iterator[Item]:
        options = self.config.csv
        invalid: list[BadRecord] = []

        def on_invalid(row: Any) -> str:
            line = f"#{row.number}" if row.number is not None else ""
            invalid.append(
                BadRecord(
                    source=f"{key}{line}",
                    raw=row.text,
                    reason=f"expected {row.expected_columns} fields, found {row.actual_columns}",
                )
            )
            return "skip"

        header = _csv_header(handle, options) if options.has_header else None
        names = header or [c.name for c in request.stream.columns]
        reader = pacsv.open_csv(
            handle,
            read_options=pacsv.ReadOptions(
                block_size=_CSV_BLOCK,
                encoding=options.encoding,
                column_names=names,
                skip_rows=1 if header else 0,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=options.delimiter,
                quote_char=options.quote_char,
                newlines_in_values=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, quoted_strings_can_be_null=False
            ),
        )
        line = 2 if header else 1
        for batch in _rebatched(reader, request.batch_rows):
            yield from invalid
            invalid.clear()
            yield with_source(batch, key, line)
            line += batch.num_rows
        yield from invalid

    def _read_parquet(self, key: str, handle: BinaryIO, request: ReadRequest) -> Iterator[Item]:
        parquet = pq.ParquetFile(handle, pre_buffer=False)  # one row group in memory at a time
        wanted = request.stream.arrow_schema
        row = 1
        # Decoded in this thread: with worker threads, each keeps its own heap of freed pages in
        # Arrow's allocator (~20-35 MiB more peak memory), for no gain while the COPY is slower.
        batches = parquet.iter_batches(batch_size=request.batch_rows, use_threads=False)
        for batch in batches:
            table = pa.Table.from_batches([batch])
            for field in wanted:
                if field.name not in table.column_names:
                    table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
            try:
                typed = table.select(wanted.names).cast(wanted.remove_metadata())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SourceError(
                    f"`{key}`: a column does not fit its declared type: {exc}"
                ) from exc
            for chunk in typed.to_batches():
                yield with_source(chunk, key, row)
                row += chunk.num_rows

    def _read_json(
        self, key: str, handle: BinaryIO, fmt: FileFormat, request: ReadRequest
    ) -> Iterator[Item]:
        names = [c.name for c in request.stream.columns]
        rows: list[dict[str, str | None]] = []
        first = 1
        for number, row in enumerate(_json_rows(handle, fmt, key), start=1):
            if isinstance(row, BadRecord):
                yield row
                continue
            rows.append({n: _as_text(row.get(n)) for n in names})
            if len(rows) >= request.batch_rows:
                yield with_source(_text_batch(rows, names), key, first)
                rows, first = [], number + 1
        if rows:
            yield with_source(_text_batch(rows, names), key, first)

    def _archive(self, info: BlobInfo, handle: BinaryIO) -> None:
        if not self.config.archive or self.context is None or self.context.archive is None:
            return
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        target = f"archive/{self.context.connector_name}/{day}/{self.context.run_id}/{info.key}"
        handle.seek(0)
        self.context.archive.put_stream(target, handle)


def _head(handle: BinaryIO, size: int) -> io.BytesIO:
    """The first `size` bytes of a file, cut after its last complete line (bounded memory)."""
    chunk = handle.read(size)
    handle.seek(0)
    if len(chunk) == size and b"\n" in chunk:
        chunk = chunk[: chunk.rindex(b"\n") + 1]
    return io.BytesIO(chunk)


def _csv_header(handle: BinaryIO, options: CsvOptions) -> list[str]:
    first = handle.readline().decode(options.encoding).rstrip("\r\n")
    handle.seek(0)
    reader = pacsv.read_csv(
        io.BytesIO((first + "\n").encode()),
        parse_options=pacsv.ParseOptions(
            delimiter=options.delimiter, quote_char=options.quote_char
        ),
        read_options=pacsv.ReadOptions(autogenerate_column_names=False),
    )
    return [name.strip() for name in reader.column_names]


def _json_rows(
    handle: BinaryIO, fmt: FileFormat, key: str, limit: int | None = None
) -> Iterator[dict[str, Any] | BadRecord]:
    """Rows of a JSON Lines file (streamed) or a JSON array document; bad lines as BadRecords."""
    if fmt == "json":
        try:
            document = json.load(handle)
        except json.JSONDecodeError as exc:
            raise SourceError(f"`{key}` is not valid JSON: {exc}") from exc
        items = document if isinstance(document, list) else [document]
        for number, item in enumerate(items[:limit] if limit else items, start=1):
            yield (
                item
                if isinstance(item, dict)
                else BadRecord(f"{key}#{number}", json.dumps(item), "expected a JSON object")
            )
        return
    for number, raw in enumerate(handle, start=1):
        if limit is not None and number > limit:
            return
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield BadRecord(f"{key}#{number}", text, f"invalid JSON: {exc.msg}")
            continue
        yield (
            value
            if isinstance(value, dict)
            else BadRecord(f"{key}#{number}", text, "expected a JSON object")
        )


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text_batch(rows: list[dict[str, str | None]], names: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=pa.schema([(n, pa.string()) for n in names]))


def _rebatched(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Batches of `size` rows (the last one smaller) from batches of any size: the CSV reader's
    blocks are kept small (memory), the batches handed on large (fewer, cheaper steps)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows < size:
            continue
        combined = _combined(pending)
        whole = rows - rows % size
        for offset in range(0, whole, size):
            yield combined.slice(offset, size)
        pending = [combined.slice(whole)] if whole < rows else []
        rows -= whole
    if rows:
        yield _combined(pending)


def _combined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
