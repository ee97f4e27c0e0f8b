"""COPY of Arrow batches into PostgreSQL.

Batches are rendered to CSV by Arrow's C++ writer and streamed with `COPY … FROM STDIN`: the
fastest path from Python short of the binary protocol, with memory bounded by one batch.

A `CopyStream` keeps one COPY open across all the batches of a stream and sends each rendered
batch from a background thread, so the server parses batch k while this process reads, types and
renders batch k+1 (Arrow's readers and writer release the GIL). At most `depth` rendered batches
wait to be sent.
"""

from __future__ import annotations

import importlib.util
import io
import json
import queue
import threading
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.copy import Copy, LibpqWriter

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, delimiter=",", quoting_style="needed")
PIPELINE_DEPTH = 2


def copy_batch(
    conn: psycopg.Connection,
    table: sql.Composable,
    batch: pa.RecordBatch,
    *,
    extra: Sequence[tuple[str, str]] = (),
) -> int:
    """COPY `batch` into `table`; `extra` adds constant text columns (name, value) to every row.

    Returns the number of rows copied. Runs in the caller's transaction.
    """
    if batch.num_rows == 0:
        return 0
    with CopyStream(conn, table, batch.schema.names, extra=extra, depth=0) as stream:
        return stream.write(batch)


class CopyStream:
    """One `COPY table (columns) FROM STDIN` fed batch by batch (`write`), ended by `close`."""

    def __init__(
        self,
        conn: psycopg.Connection,
        table: sql.Composable,
        columns: Sequence[str],
        *,
        extra: Sequence[tuple[str, str]] = (),
        depth: int = PIPELINE_DEPTH,
        binary: bool = False,
    ) -> None:
        self._conn = conn
        self._extra = tuple(extra)
        self._columns = [*columns, *(name for name, _ in self._extra)]
        self._statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
            table,
            sql.SQL(", ").join(map(sql.Identifier, self._columns)),
            sql.SQL("binary" if binary else "csv"),
        )
        self._binary = binary
        self._encoder: Any = None
        self._depth = depth
        self._open: ExitStack | None = None
        self._copy: Copy | None = None
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> int:
        if batch.num_rows == 0:
            return 0
        data = self._render(batch)
        if self._copy is None:
            self._open = ExitStack()
            cursor = self._open.enter_context(self._conn.cursor())
            writer = _PipelinedWriter(cursor, self._depth) if self._depth else None
            self._copy = self._open.enter_context(cursor.copy(self._statement, writer=writer))
            if self._binary:
                self._copy.write(self._header)
        self._copy.write(data)
        self.rows += batch.num_rows
        return int(batch.num_rows)

    def close(self, exc: BaseException | None = None) -> None:
        """End the COPY (waiting for the server); raises what the server refused."""
        opened, copy, self._open, self._copy = self._open, self._copy, None, None
        encoder, self._encoder = self._encoder, None  # a later write opens a new COPY
        if copy is not None and encoder is not None and exc is None:
            copy.write(encoder.finish())
        if opened is not None:
            opened.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

    def _render(self, batch: pa.RecordBatch) -> Any:
        if not self._binary:
            return render_csv(batch, self._extra)
        for name, value in self._extra:  # binary: the constant columns are uuids
            batch = batch.append_column(name, _uuid_array(value, batch.num_rows))
        if self._encoder is None:
            from pgpq import ArrowToPostgresBinaryEncoder

            self._encoder = ArrowToPostgresBinaryEncoder(batch.schema)
            self._header = self._encoder.write_header()
        return self._encoder.write_batch(batch)

    def __enter__(self) -> CopyStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(exc)


def render_csv(batch: pa.RecordBatch, extra: Sequence[tuple[str, str]] = ()) -> memoryview:
    batch = _copyable(batch)
    for name, value in extra:
        batch = batch.append_column(name, text_array(value, batch.num_rows))
    buffer = io.BytesIO()
    pacsv.write_csv(batch, buffer, _CSV_OPTIONS)
    return buffer.getbuffer()


class _PipelinedWriter(LibpqWriter):
    """Sends from a background thread; `write` blocks only when `depth` buffers are waiting."""

    def __init__(self, cursor: psycopg.Cursor[Any], depth: int) -> None:
        super().__init__(cursor)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def write(self, data: Any) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._send, name="ipai-copy", daemon=True)
            self._thread.start()
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def finish(self, exc: BaseException | None = None) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None and exc is None:
            exc = self._error
            super().finish(exc)
            raise self._error
        super().finish(exc)

    def _send(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    LibpqWriter.write(self, data)
                except BaseException as error:  # re-raised in the caller's thread
                    self._error = error


def text_array(value: str, size: int = 1) -> pa.Array:
    """`value` repeated `size` times, built from buffers: any Python object handed to pyarrow
    (`pa.array`, `pa.scalar`, a `str` argument to a compute function) makes pyarrow import
    pandas, ~90 MiB of a loader's memory."""
    raw = value.encode()
    offsets = np.arange(size + 1, dtype=np.int32) * len(raw)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(raw * size)]
    return pa.Array.from_buffers(pa.string(), size, buffers)


def _uuid_array(value: str, size: int) -> pa.Array:
    raw = uuid.UUID(value).bytes
    return pa.Array.from_buffers(pa.binary(16), size, [None, pa.py_buffer(raw * size)])


def binary_copyable(types: Sequence[pa.DataType]) -> bool:
    """Whether pgpq (when installed) encodes these column types as their bronze columns expect."""
    if importlib.util.find_spec("pgpq") is None:
        return False
    return all(t in _BINARY_TYPES or _binary_shaped(t) for t in types)


_BINARY_TYPES = frozenset(
    (pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64(), pa.bool_(), pa.date32())
) | frozenset((pa.string(), pa.large_string()))


def _binary_shaped(t: pa.DataType) -> bool:
    return bool(pa.types.is_decimal128(t) or (pa.types.is_timestamp(t) and t.unit == "us"))


def _copyable(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Columns the CSV writer cannot render for PostgreSQL (or renders slowly) become text first:
    nested values as JSON (for jsonb), binary as bytea hex, zoned timestamps as UTC with `+00`
    (Arrow formats zoned timestamps through the time-zone database: 20x slower)."""
    columns = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        t = field.type
        if (
            pa.types.is_list(t)
            or pa.types.is_large_list(t)
            or pa.types.is_struct(t)
            or pa.types.is_map(t)
        ):
            column = pa.array(
                [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()],
                pa.string(),
            )
        elif (
            pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
        ):
            column = pa.array(
                [None if v is None else "\\x" + v.hex() for v in column.to_pylist()], pa.string()
            )
        elif pa.types.is_timestamp(t) and t.tz is not None:
            utc = column.view(pa.timestamp(t.unit)).cast(pa.string())  # the UTC values
            column = pc.binary_join_element_wise(utc, text_array("+00")[0], text_array("")[0])
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
