"""COPY of Arrow batches into PostgreSQL.

Batches are rendered to CSV by Arrow's C++ writer and streamed with `COPY … FROM STDIN`: the
fastest path from Python short of the binary protocol, with memory bounded by one batch.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, delimiter=",", quoting_style="needed")


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
    batch = _copyable(batch)
    for name, value in extra:
        batch = batch.append_column(name, pa.array([value] * batch.num_rows, pa.string()))
    buffer = io.BytesIO()
    pacsv.write_csv(batch, buffer, _CSV_OPTIONS)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, batch.schema.names))
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(buffer.getbuffer())
    return int(batch.num_rows)


def _copyable(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Columns the CSV writer cannot render for PostgreSQL become text first: nested values as
    JSON (for jsonb), binary as bytea hex."""
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
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
