"""`run_connector(lakehouse, name_or_id)`: the single entry point of every sync.

It loads and validates the config, takes the connector's run lock (one run at a time, across
processes and machines), resolves vault secrets, discovers streams, loads each stream in its own
transaction, and records the run — status, counts per stream, bytes, duration, error — with an
audit entry. A failed stream leaves its bronze table and cursor as they were.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from ipai_core.connectors.base import Connector, RunContext, StreamSchema, SyncMode
from ipai_core.connectors.registry import connector_class
from ipai_core.connectors.store import ConnectorRecord, get_connector, validate_config
from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError, ConnectorBusy, IpaiError
from ipai_core.lakehouse import Lakehouse
from ipai_core.observability import annotate, observe
from ipai_core.quality.hooks import after_connector_run
from ipai_core.storage.locate import default_blob_store
from ipai_core.sync.bronze import table_name
from ipai_core.sync.memory import use_lean_arrow_pool
from ipai_core.sync.runs import (
    StreamStats,
    abandon_stale_runs,
    finish_run,
    report_progress,
    start_run,
)
from ipai_core.sync.stream import StreamJob, load_stream
from ipai_core.transform.runner import TransformResult, run_transformations
from ipai_core.vault import SecretValue, open_vault


@dataclass(frozen=True)
class RunResult:
    run_id: str
    connector: str
    status: str
    streams: Mapping[str, StreamStats]
    error: str | None
    duration_s: float
    transform: TransformResult | None = None  # views refreshed because this run changed data

    @property
    def ok(self) -> bool:
        return self.status == "success"


ProgressCallback = Callable[[Mapping[str, StreamStats]], None]


def run_connector(
    lh: Lakehouse,
    connector: str,
    *,
    triggered_by: str = "manual",
    on_progress: ProgressCallback | None = None,
) -> RunResult:
    """Run one connector now (`connector`: its name or id) inside a `connector.run` span."""
    with observe.connector_run(connector, triggered_by=triggered_by) as observed:
        result = _run_connector(lh, connector, triggered_by=triggered_by, on_progress=on_progress)
        rows_written = sum(s.rows_written for s in result.streams.values())
        observed.finished(status=result.status, error=result.error, rows_written=rows_written)
    return result


def _run_connector(
    lh: Lakehouse,
    connector: str,
    *,
    triggered_by: str,
    on_progress: ProgressCallback | None,
) -> RunResult:
    record = get_connector(lh, connector)
    if not record.is_enabled:
        raise ConfigError(
            f"connector `{record.name}` is disabled; enable it with "
            f"`ipai connectors enable {record.name}`"
        )
    cls = connector_class(record.connector_type)
    options = validate_config(record.connector_type, record.config, name=record.name)
    use_lean_arrow_pool()
    with run_lock(lh.db.url, record):
        abandon_stale_runs(lh.db, record.id)
        run_id = start_run(lh.db, record.id, record.name, triggered_by)
        annotate(connector=record.name, connector_type=record.connector_type, run_id=run_id)
        started = time.monotonic()
        stats: dict[str, StreamStats] = {}
        error = None
        secrets: Mapping[str, SecretValue] = {}
        try:
            secrets = open_vault(lh).resolve(record.vault_secret_refs)
            context = RunContext(
                record.name,
                run_id,
                default_blob_store(lh.settings),
                cursors=_cursors(lh, record.id),
                owner_url=lh.owner_url,
            )
            instance = cls(options, secrets, context)
            try:
                error = _run_streams(
                    lh,
                    instance,
                    record,
                    run_id,
                    options,
                    stats,
                    on_progress,
                    lambda text: _scrub(text, secrets) or "",
                )
            finally:
                instance.close()
        except Exception as exc:  # recorded on the run, then the run is closed as failed
            error = _describe(exc)
        error = _scrub(error, secrets)
        finish_run(
            lh.db, run_id, record.id, stats, error=error, duration_s=time.monotonic() - started
        )
    result = RunResult(
        run_id,
        record.name,
        "failed" if error else "success",
        stats,
        error,
        time.monotonic() - started,
        _refresh_downstream(lh, record.name, stats),
    )
    after_connector_run(lh, result)  # checks on what changed, the run's event; never raises
    return result


def _refresh_downstream(
    lh: Lakehouse, name: str, stats: Mapping[str, StreamStats]
) -> TransformResult | None:
    """Refresh the materialized views fed by the bronze tables this run changed."""
    changed = [
        st.table
        for st in stats.values()
        if st.table and st.status == "success" and (st.rows_written or st.rows_deleted)
    ]
    if not changed:
        return None
    return run_transformations(lh, fed_by=changed, trigger=f"connector:{name}")


def _run_streams(
    lh: Lakehouse,
    instance: Connector[Any],
    record: ConnectorRecord,
    run_id: str,
    options: Any,
    stats: dict[str, StreamStats],
    on_progress: ProgressCallback | None,
    scrub: Callable[[str], str],
) -> str | None:
    streams = _selected(instance.discover(), options.streams)
    cursors = _cursors(lh, record.id)
    for stream in streams:
        stats[stream.name] = StreamStats(status="pending")

    def progress() -> None:
        report_progress(lh.db, run_id, stats)
        if on_progress is not None:
            on_progress(stats)

    failures = []
    for stream in streams:
        stream_stats = stats[stream.name]
        stream_stats.status = "running"
        mode = _mode(stream, options.mode)
        job = StreamJob(
            connector_id=record.id,
            connector_name=record.name,
            run_id=run_id,
            stream=stream,
            schema=options.target_schema,
            table=table_name(options.table_prefix, stream.name),
            mode=mode,
            cursor=None
            if mode is SyncMode.FULL_REFRESH and not _keeps_cursor(stream)
            else cursors.get(stream.name),
            max_bad_row_share=options.max_bad_row_share,
            batch_rows=options.batch_rows,
        )
        try:
            with observe.connector_stream(stream.name, stream_stats):
                load_stream(lh.db, instance, job, stream_stats, progress)
            stream_stats.status = "success"
        except Exception as exc:
            stream_stats.status = "failed"
            stream_stats.error = scrub(_describe(exc))
            failures.append(f"{stream.name}: {stream_stats.error}")
        progress()
    return "; ".join(failures) or None


def _keeps_cursor(stream: StreamSchema) -> bool:
    """File streams keep their fingerprints even on a full refresh (to know what changed)."""
    return stream.raw_text


def _mode(stream: StreamSchema, wanted: SyncMode) -> SyncMode:
    if wanted in stream.modes:
        return wanted
    if wanted is SyncMode.CDC and SyncMode.INCREMENTAL in stream.modes:
        return SyncMode.INCREMENTAL
    return SyncMode.FULL_REFRESH


def _selected(streams: list[StreamSchema], wanted: list[str] | None) -> list[StreamSchema]:
    if wanted is None:
        return streams
    by_name = {s.name: s for s in streams}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise ConfigError(
            f"unknown stream(s) `{', '.join(unknown)}`; the source has: "
            f"{', '.join(sorted(by_name)) or 'none'}"
        )
    return [by_name[w] for w in wanted]


def _cursors(lh: Lakehouse, connector_id: str) -> dict[str, dict[str, object]]:
    with lh.session(Principal.service("connector state read")) as s:
        rows = s.query(
            "SELECT stream, cursor FROM public.ipai_connector_state WHERE connector_id = %s",
            [connector_id],
        ).rows()
    return {str(stream): json.loads(str(cursor)) for stream, cursor in rows}


@contextmanager
def run_lock(url: str, record: ConnectorRecord) -> Iterator[None]:
    """A session-level advisory lock held for the whole run on its own connection: released by
    Postgres when the process dies, so a crashed run never blocks the next one."""
    with psycopg.connect(url, autocommit=True) as conn:
        key = f"ipai_connector_run:{record.id}"
        got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key]).fetchone()
        if not got or not got[0]:
            raise ConnectorBusy(
                f"connector `{record.name}` is already running; wait for that "
                "run to finish (`ipai connectors history`)",
                connector=record.name,
            )
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, IpaiError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".strip()


def _scrub(message: str | None, secrets: Mapping[str, SecretValue]) -> str | None:
    """No secret value ever reaches a run record, even inside a source's own error text."""
    if message is None:
        return None
    for value in secrets.values():
        revealed = value.reveal()
        if revealed:
            message = message.replace(revealed, "***")
    return message
