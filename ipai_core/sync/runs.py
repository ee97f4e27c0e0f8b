"""Run records in `ipai_connector_run`: started, progress while running, finished — each in its
own short transaction so they are visible at once, and an audit entry at both ends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ipai_core.db.pool import Database
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import session


@dataclass
class StreamStats:
    rows_read: int = 0
    rows_written: int = 0
    rows_deleted: int = 0
    rows_quarantined: int = 0
    bytes_read: int = 0
    schema_changes: list[str] = field(default_factory=list)
    status: str = "pending"
    error: str | None = None
    table: str | None = None  # the bronze table (schema.name) the stream loads

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _service(reason: str) -> Principal:
    return Principal.service(reason)


def start_run(db: Database, connector_id: str, name: str, triggered_by: str) -> str:
    with session(db, _service(f"connector run {name}")) as s:
        run_id = s.scalar(
            "INSERT INTO public.ipai_connector_run (connector_id, status, triggered_by)"
            " VALUES (%s, 'running', %s) RETURNING id::text",
            [connector_id, triggered_by],
        )
        s.execute(
            "SELECT public.ipai_audit('connector_run', 'connector', %s, 'started', %s)",
            [connector_id, json.dumps({"run_id": run_id, "triggered_by": triggered_by})],
        )
    return str(run_id)


def report_progress(db: Database, run_id: str, streams: Mapping[str, StreamStats]) -> None:
    with session(db, _service("connector run progress")) as s:
        s.execute(
            "UPDATE public.ipai_connector_run SET rows_read = %s, rows_written = %s,"
            " metadata = metadata || jsonb_build_object('streams', %s::jsonb,"
            " 'heartbeat_at', now()) WHERE id = %s",
            [
                sum(x.rows_read for x in streams.values()),
                sum(x.rows_written for x in streams.values()),
                json.dumps({k: v.as_json() for k, v in streams.items()}),
                run_id,
            ],
        )


def finish_run(
    db: Database,
    run_id: str,
    connector_id: str,
    streams: Mapping[str, StreamStats],
    *,
    error: str | None,
    duration_s: float,
) -> None:
    status = "failed" if error else "success"
    with session(db, _service("connector run finished")) as s:
        s.execute(
            "UPDATE public.ipai_connector_run SET status = %s, ended_at = now(), rows_read = %s,"
            " rows_written = %s, error_message = %s, metadata = metadata ||"
            " jsonb_build_object('streams', %s::jsonb, 'duration_s', %s::float8,"
            " 'bytes_read', %s::bigint, 'rows_quarantined', %s::bigint) WHERE id = %s",
            [
                status,
                sum(x.rows_read for x in streams.values()),
                sum(x.rows_written for x in streams.values()),
                error,
                json.dumps({k: v.as_json() for k, v in streams.items()}),
                round(duration_s, 3),
                sum(x.bytes_read for x in streams.values()),
                sum(x.rows_quarantined for x in streams.values()),
                run_id,
            ],
        )
        s.execute(
            "SELECT public.ipai_audit('connector_run', 'connector', %s, %s, %s)",
            [connector_id, status, json.dumps({"run_id": run_id, "error": error})],
        )


def abandon_stale_runs(db: Database, connector_id: str) -> int:
    """Mark 'running' rows of a connector as failed; call only while holding its run lock, when
    no live process can be running it (the previous one died, e.g. kill -9)."""
    with session(db, _service("connector run cleanup")) as s:
        return s.execute(
            "UPDATE public.ipai_connector_run SET status = 'failed', ended_at = now(),"
            " error_message = 'abandoned: the process running it stopped before finishing;"
            " its data was rolled back and the next run resumes from the last committed cursor'"
            " WHERE connector_id = %s AND status = 'running'",
            [connector_id],
        )
