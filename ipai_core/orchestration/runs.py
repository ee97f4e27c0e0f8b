"""Run requests in `public.ipai_orchestration_run`: accepted as the caller (the database decides
who may: an agent with the `schedule` operation, or a data engineer), read back as the caller,
and moved through running → success | failed by the process that runs them, as the service role.

A running request belongs to a live process: that process holds a session advisory lock on the
run (`lock_key`). Reading a run that claims to be queued or running, whose lock nobody holds and
that is older than `ABANDONED_AFTER`, marks it failed — its process stopped.
"""

from __future__ import annotations

import json
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, NotFound
from ipai_core.lakehouse import Lakehouse

Kind = Literal["connector", "transformation"]
Via = Literal["http", "mcp"]
TRANSFORMATIONS = "transformations"
ABANDONED_AFTER = timedelta(seconds=30)
# The advisory lock a live process holds on a run it runs (the key is derived from the run id).
LOCK_RUN_SQL = "SELECT pg_advisory_lock(hashtextextended('ipai_orchestration:' || %s::text, 0))"

_COLUMNS = (
    "id::text, kind, target, selectors, status, requested_by_user::text,"
    " requested_by_agent::text, requested_via, runner, connector_run_id::text, result,"
    " error_message, created_at, started_at, ended_at"
)


@dataclass(frozen=True)
class OrchestrationRun:
    id: str
    kind: str
    target: str
    selectors: tuple[str, ...]
    status: str
    requested_by_user: str | None
    requested_by_agent: str | None
    requested_via: str
    runner: str | None
    connector_run_id: str | None
    result: dict[str, Any]
    error_message: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in ("success", "failed")

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.id,
            "kind": self.kind,
            "target": self.target,
            "selectors": list(self.selectors),
            "status": self.status,
            "connector_run_id": self.connector_run_id,
            "result": self.result,
            "error": self.error_message,
            "requested_via": self.requested_via,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


def request_run(
    lh: Lakehouse,
    principal: Principal,
    kind: Kind,
    target: str,
    *,
    selectors: tuple[str, ...] = (),
    via: Via,
) -> str:
    """Record a request as `principal`; raises `AccessDenied` when the database refuses the
    caller and `NotFound` for an unknown connector."""
    if kind == "transformation" and target != TRANSFORMATIONS:
        raise ConfigError(f"a transformation request targets `{TRANSFORMATIONS}`, not `{target}`")
    try:
        with lh.session(principal) as s:
            return str(
                s.scalar(
                    "SELECT public.ipai_orchestration_request(%s, %s, %s, %s)",
                    [kind, target, list(selectors), via],
                )
            )
    except psycopg.errors.NoDataFound as exc:
        raise NotFound(
            f"no connector `{target}`; list connectors with `ipai connectors list`", name=target
        ) from exc


def get_run(lh: Lakehouse, principal: Principal, run_id: str) -> OrchestrationRun:
    """The run as `principal` may see it (its requester, or a caller allowed to trigger runs)."""
    if not _is_uuid(run_id):
        raise NotFound(f"no run `{run_id[:60]}`", name=run_id)
    with lh.session(principal) as s:
        rows = s.query(
            f"SELECT {_COLUMNS} FROM public.ipai_orchestration_get(%s)",  # noqa: S608 - constant columns
            [run_id],
        ).rows()
    if not rows:
        raise NotFound(
            f"no run `{run_id}` that this caller may see; runs are visible to whoever requested "
            "them and to callers allowed to trigger runs",
            name=run_id,
        )
    run = _record(rows[0])
    if not run.finished and _abandoned(lh, run):
        return get_run(lh, principal, run_id)
    return run


def mark_running(lh: Lakehouse, run_id: str, runner: str) -> None:
    with _service(lh, f"orchestration {run_id}: running") as s:
        s.execute(
            "UPDATE public.ipai_orchestration_run SET status = 'running', runner = %s,"
            " started_at = now() WHERE id = %s",
            [runner, run_id],
        )


def finish_run(
    lh: Lakehouse,
    run_id: str,
    *,
    error: str | None,
    result: dict[str, Any],
    connector_run_id: str | None = None,
) -> None:
    status = "failed" if error else "success"
    with _service(lh, f"orchestration {run_id}: {status}") as s:
        s.execute(
            "UPDATE public.ipai_orchestration_run SET status = %s, ended_at = now(),"
            " error_message = %s, result = %s, connector_run_id = %s WHERE id = %s",
            [status, error, json.dumps(result, default=str), connector_run_id, run_id],
        )
        s.execute(
            "SELECT public.ipai_audit('orchestration', kind, id, %s, %s)"
            " FROM public.ipai_orchestration_run WHERE id = %s",
            [status, json.dumps({"error": error, "connector_run_id": connector_run_id}), run_id],
        )


def _abandoned(lh: Lakehouse, run: OrchestrationRun) -> bool:
    """Mark the run failed when no live process holds its lock; True when it did."""
    with _service(lh, f"orchestration {run.id}: liveness") as s:
        marked = s.execute(
            "UPDATE public.ipai_orchestration_run SET status = 'failed', ended_at = now(),"
            " error_message = %s WHERE id = %s AND status IN ('queued', 'running')"
            " AND created_at < now() - %s::interval AND pg_try_advisory_xact_lock("
            "hashtextextended('ipai_orchestration:' || %s::text, 0))",
            [
                f"abandoned: the process that ran it ({run.runner or 'not started'}) stopped; "
                "request the run again",
                run.id,
                f"{int(ABANDONED_AFTER.total_seconds())} seconds",
                run.id,
            ],
        )
    return marked > 0


def _service(lh: Lakehouse, reason: str) -> AbstractContextManager[ScopedSession]:
    return lh.session(Principal.service(reason))


def _record(row: tuple[Any, ...]) -> OrchestrationRun:
    (run_id, kind, target, selectors, status, user, agent, via, runner, connector_run, result,
     error, created, started, ended) = row  # fmt: skip
    return OrchestrationRun(
        id=run_id,
        kind=kind,
        target=target,
        selectors=tuple(selectors or ()),
        status=status,
        requested_by_user=user,
        requested_by_agent=agent,
        requested_via=via,
        runner=runner,
        connector_run_id=connector_run,
        result=json.loads(result) if isinstance(result, str) else (result or {}),
        error_message=error,
        created_at=created,
        started_at=started,
        ended_at=ended,
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
