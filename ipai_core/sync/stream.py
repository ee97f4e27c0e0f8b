"""Loads one stream of one run: bronze table in line with the stream, batches typed and
COPYed, merged into bronze with soft deletes, and the cursor saved — all in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from ipai_core.connectors.base import (
    FIRST_ROW_KEY,
    SOURCE_KEY,
    BadRecord,
    Checkpoint,
    Connector,
    Deletes,
    ReadRequest,
    ServerSideLoad,
    StreamSchema,
    SyncMode,
)
from ipai_core.db.pool import Database
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession, session
from ipai_core.errors import TooManyBadRows
from ipai_core.sync.bronze import BronzeTable, ensure_bronze_table, existing_columns
from ipai_core.sync.copy import CopyStream, binary_copyable
from ipai_core.sync.pgtypes import pg_type
from ipai_core.sync.runs import StreamStats
from ipai_core.sync.validate import validate

PROGRESS_EVERY_ROWS = 200_000


@dataclass(frozen=True)
class StreamJob:
    """Everything needed to load one stream (pure data: decided before anything runs)."""

    connector_id: str
    connector_name: str
    run_id: str
    stream: StreamSchema
    schema: str
    table: str
    mode: SyncMode
    cursor: dict[str, object] | None
    max_bad_row_share: float
    batch_rows: int


class _DirectLoadClash(Exception):
    """The fast path (COPY straight into an empty table) met a duplicate key."""


def load_stream(
    db: Database,
    connector: Connector[Any],
    job: StreamJob,
    stats: StreamStats,
    on_progress: Callable[[], None],
) -> None:
    principal = Principal.service(f"sync {job.connector_name}.{job.stream.name}")
    with session(db, principal) as s:
        table, drift = ensure_bronze_table(
            s, job.schema, job.table, job.stream, connector=job.connector_name
        )
    stats.table = table.qualified_name
    stats.schema_changes = [f"{d.column} {d.change} {d.old_type or ''}→{d.new_type}" for d in drift]
    try:
        _load(db, principal, connector, job, table, stats, on_progress, allow_direct=True)
    except _DirectLoadClash:
        stats.rows_read = stats.rows_written = stats.rows_quarantined = stats.bytes_read = 0
        _load(db, principal, connector, job, table, stats, on_progress, allow_direct=False)


def _load(
    db: Database,
    principal: Principal,
    connector: Connector[Any],
    job: StreamJob,
    table: BronzeTable,
    stats: StreamStats,
    on_progress: Callable[[], None],
    *,
    allow_direct: bool,
) -> None:
    with session(db, principal) as s:
        # An empty table takes the fast path: COPY straight into bronze (still one transaction).
        direct = allow_direct and not s.scalar(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table.ident)
        )
        stage = None if direct else _create_stage(s, table)
        copy = _copy_stream(s, table, stage, job)
        cursor = job.cursor
        request = ReadRequest(job.stream, job.mode, job.cursor, batch_rows=job.batch_rows)
        since_progress = 0
        try:
            for item in connector.read(request):
                if isinstance(item, pa.RecordBatch):
                    source, first_row = _origin(item, job.stream.name, stats.rows_read + 1)
                    checked = validate(item, job.stream, source, first_row=first_row)
                    stats.rows_read += item.num_rows
                    stats.bytes_read += item.nbytes
                    _quarantine(db, job, checked.bad, stats)
                    written = copy.write(checked.good)
                    stats.rows_written += written if direct else 0
                    since_progress += item.num_rows
                elif isinstance(item, BadRecord):
                    stats.rows_read += 1
                    _quarantine(db, job, [item], stats)
                elif isinstance(item, Deletes):
                    if job.mode is SyncMode.FULL_REFRESH:
                        continue  # a full refresh finds deletions itself, from what it did not see
                    copy.close()  # the rows before the deletes are in, and the connection free
                    if stage is not None:
                        stats.rows_written += _merge(s, table, stage, job.run_id)
                    stats.rows_deleted += _soft_delete_keys(s, table, item.keys, job.run_id)
                elif isinstance(item, Checkpoint):
                    cursor = dict(item.value)
                elif isinstance(item, ServerSideLoad):
                    copy.close()
                    loaded = _insert_select(s, table, stage, item, job.run_id)
                    stats.rows_read += loaded
                    stats.rows_written += loaded if stage is None else 0
                if since_progress >= PROGRESS_EVERY_ROWS:
                    since_progress = 0
                    on_progress()
            copy.close()
        except BaseException as exc:
            copy.close(exc)
            if direct and isinstance(exc, psycopg.errors.UniqueViolation):
                raise _DirectLoadClash from exc
            raise
        _check_bad_share(job, stats)
        if stage is not None:
            full = job.mode is SyncMode.FULL_REFRESH
            stats.rows_written += _merge(s, table, stage, job.run_id, keep_stage=full)
            if full:
                stats.rows_deleted += _soft_delete_missing(s, table, stage, job.run_id)
        _save_cursor(s, job, cursor)


def _copy_stream(
    s: ScopedSession, table: BronzeTable, stage: sql.Composed | None, job: StreamJob
) -> CopyStream:
    """One COPY for the whole stream — into bronze (fast path, with the run id) or the stage —
    fed from a background thread, so the server loads batch k while batch k+1 is read, typed
    and rendered. Binary when every bronze column has its Arrow column's exact type."""
    binary = _binary_ok(s, table, job.stream)
    if stage is None:
        return CopyStream(
            s.connection,
            table.ident,
            table.columns,
            extra=[("_ipai_run_id", job.run_id)],
            binary=binary,
        )
    return CopyStream(s.connection, stage, table.columns, binary=binary)


def _binary_ok(s: ScopedSession, table: BronzeTable, stream: StreamSchema) -> bool:
    """Text COPY lets the server convert values; binary COPY does not, so it is used only when
    each bronze column's type is exactly `pg_type` of its Arrow type (not after a widening)."""
    types = [stream.column(c).type for c in table.columns]
    if not binary_copyable(types):
        return False
    existing = existing_columns(s, table.schema, table.name)
    return all(existing.get(c) == pg_type(t) for c, t in zip(table.columns, types, strict=True))


def _insert_select(
    s: ScopedSession,
    table: BronzeTable,
    stage: sql.Composed | None,
    load: ServerSideLoad,
    run_id: str,
) -> int:
    """Rows the database fetches itself go into the stage, or (fast path) into the empty bronze
    table; no statement timeout, as one statement moves the whole stream."""
    cols = _columns(table.columns)
    s.execute("SELECT set_config('statement_timeout', '0', true)")
    if stage is not None:
        statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM ({}) AS q").format(
            stage, cols, cols, load.query
        )
        return s.execute(statement, load.params)
    statement = sql.SQL(
        "INSERT INTO {} ({}, _ipai_run_id) SELECT {}, {}::uuid FROM ({}) AS q"
    ).format(table.ident, cols, cols, sql.Literal(run_id), load.query)
    try:
        with s.connection.transaction():
            return s.execute(statement, load.params)
    except psycopg.errors.UniqueViolation as exc:
        raise _DirectLoadClash from exc


def _create_stage(s: ScopedSession, table: BronzeTable) -> sql.Composed:
    stage = sql.Identifier(f"_stage_{table.name}"[:63])
    s.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            stage, _columns(table.columns), table.ident
        )
    )
    s.execute(sql.SQL("ALTER TABLE {} ADD COLUMN _ipai_seq bigserial").format(stage))
    return sql.SQL("{}").format(stage)


def _merge(
    s: ScopedSession,
    table: BronzeTable,
    stage: sql.Composed,
    run_id: str,
    *,
    keep_stage: bool = False,
) -> int:
    """Upsert the staged rows (the last one per key wins); unchanged rows are left alone.

    The stage is emptied afterwards unless `keep_stage` (a full refresh still needs its keys to
    find the rows the source no longer has)."""
    cols = _columns(table.columns)
    pk = _columns(table.primary_key)
    data = [c for c in table.columns if c not in table.primary_key]
    updates = sql.SQL(", ").join(
        [sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in data]
        + [
            sql.SQL(
                "_ipai_run_id = EXCLUDED._ipai_run_id, _ipai_synced_at = now(),"
                " _ipai_deleted = false"
            )
        ]
    )
    changed = sql.SQL("({}, t._ipai_deleted) IS DISTINCT FROM ({}, false)").format(
        sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in data)
        if data
        else sql.SQL("NULL"),
        sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in data)
        if data
        else sql.SQL("NULL"),
    )
    written = s.execute(
        sql.SQL(
            "INSERT INTO {table} AS t ({cols}, _ipai_run_id) "
            "SELECT DISTINCT ON ({pk}) {cols}, {run}::uuid FROM {stage}"
            " ORDER BY {pk}, _ipai_seq DESC "
            "ON CONFLICT ({pk}) DO UPDATE SET {updates} WHERE {changed}"
        ).format(
            table=table.ident,
            cols=cols,
            pk=pk,
            run=sql.Literal(run_id),
            stage=stage,
            updates=updates,
            changed=changed,
        )
    )
    if not keep_stage:
        s.execute(sql.SQL("TRUNCATE {}").format(stage))
    return written


def _soft_delete_missing(
    s: ScopedSession, table: BronzeTable, stage: sql.Composed, run_id: str
) -> int:
    """Full refresh: rows the source no longer has are marked deleted, never removed."""
    match = sql.SQL(" AND ").join(
        sql.SQL("k.{c} = t.{c}").format(c=sql.Identifier(c)) for c in table.primary_key
    )
    return s.execute(
        sql.SQL(
            "UPDATE {} AS t SET _ipai_deleted = true, _ipai_synced_at = now(), _ipai_run_id = {}"
            " WHERE NOT t._ipai_deleted AND NOT EXISTS (SELECT 1 FROM {} k WHERE {})"
        ).format(table.ident, sql.Literal(run_id), stage, match)
    )


def _soft_delete_keys(
    s: ScopedSession, table: BronzeTable, keys: pa.RecordBatch, run_id: str
) -> int:
    if keys.num_rows == 0:
        return 0
    s.execute("CREATE TEMP TABLE IF NOT EXISTS _deleted_keys (k jsonb) ON COMMIT DROP")
    s.execute("TRUNCATE _deleted_keys")
    with s.connection.cursor() as cur, cur.copy("COPY _deleted_keys (k) FROM STDIN") as copy:
        for row in keys.to_pylist():
            copy.write_row([json.dumps(row, default=str)])
    match = sql.SQL(" AND ").join(
        sql.SQL("t.{c}::text = (d.k ->> {name})").format(c=sql.Identifier(c), name=sql.Literal(c))
        for c in table.primary_key
    )
    return s.execute(
        sql.SQL(
            "UPDATE {} AS t SET _ipai_deleted = true, _ipai_synced_at = now(), _ipai_run_id = {}"
            " FROM _deleted_keys d WHERE {} AND NOT t._ipai_deleted"
        ).format(table.ident, sql.Literal(run_id), match)
    )


def _quarantine(db: Database, job: StreamJob, bad: list[BadRecord], stats: StreamStats) -> None:
    """Bad rows are written in their own committed transaction: they survive a failed run."""
    if not bad:
        return
    stats.rows_quarantined += len(bad)
    with (
        session(db, Principal.service(f"quarantine {job.connector_name}")) as q,
        q.connection.cursor() as cur,
        cur.copy(
            "COPY public.ipai_connector_quarantine"
            " (connector_id, run_id, stream, source, raw_value, reason) FROM STDIN"
        ) as copy,
    ):
        for record in bad:
            copy.write_row(
                [
                    job.connector_id,
                    job.run_id,
                    job.stream.name,
                    record.source,
                    record.raw,
                    record.reason,
                ]
            )


def _check_bad_share(job: StreamJob, stats: StreamStats) -> None:
    if stats.rows_read and stats.rows_quarantined / stats.rows_read > job.max_bad_row_share:
        raise TooManyBadRows(
            stream=job.stream.name,
            bad=stats.rows_quarantined,
            total=stats.rows_read,
            allowed_share=job.max_bad_row_share,
        )


def _save_cursor(s: ScopedSession, job: StreamJob, cursor: dict[str, object] | None) -> None:
    s.execute(
        "INSERT INTO public.ipai_connector_state (connector_id, stream, cursor, run_id)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (connector_id, stream) DO UPDATE"
        " SET cursor = EXCLUDED.cursor, run_id = EXCLUDED.run_id, updated_at = now()",
        [job.connector_id, job.stream.name, json.dumps(cursor or {}, default=str), job.run_id],
    )


def _origin(batch: pa.RecordBatch, default: str, first_row: int) -> tuple[str, int]:
    meta = batch.schema.metadata or {}
    if SOURCE_KEY in meta:
        return meta[SOURCE_KEY].decode(), int(meta.get(FIRST_ROW_KEY, b"1"))
    return default, first_row


def _columns(names: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))
