"""The scheduler's SQL: heartbeats, and the life of a row of `ipai_scheduled_run`.

    enqueue ──▶ queued ──claim──▶ running ──complete──▶ success | skipped
                  ▲                  │ ──fail──────────▶ failed (out of attempts / not retryable)
                  └── fail (retry) ──┤
                  └── requeue ───────┤   (busy, or released at shutdown: the attempt is not spent)
                  └── reclaim ───────┘   (its scheduler stopped beating)

Every function runs inside the caller's session (one transaction) and takes `now` from the
caller, so all schedulers and the tests agree on one clock. Nothing here waits for a lock held by
another scheduler except the INSERT of a slot two schedulers enqueue at once (callers insert in
one sorted order); the rest uses `FOR UPDATE SKIP LOCKED`. Updates by the claimer are fenced on
`claimed_by`: once a row was reclaimed, its old claimer can no longer change it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata
from typing import Literal

from ipai_core.db.scoped import ScopedSession
from ipai_core.scheduler.plan import PlannedRun

CONNECTOR_RUN = "connector_run"


@dataclass(frozen=True)
class SchedulerIdentity:
    """Who a scheduler process is, as written to its heartbeat row."""

    scheduler_id: str
    hostname: str
    pid: int
    version: str
    kinds: tuple[str, ...]
    workers: int
    interval_s: float

    @classmethod
    def of_this_process(
        cls, *, kinds: Sequence[str], workers: int, interval_s: float
    ) -> SchedulerIdentity:
        host, pid = socket.gethostname(), os.getpid()
        return cls(
            f"{host}:{pid}:{uuid.uuid4().hex[:8]}",
            host,
            pid,
            _version(),
            tuple(kinds),
            workers,
            interval_s,
        )


@dataclass(frozen=True)
class Heartbeat:
    scheduler_id: str
    hostname: str
    pid: int
    version: str
    kinds: tuple[str, ...]
    workers: int
    interval_s: float
    started_at: datetime
    last_beat_at: datetime
    stopped_at: datetime | None


@dataclass(frozen=True)
class ClaimedJob:
    """A row this scheduler now runs; `attempt` counts this attempt (1 for the first)."""

    id: str
    kind: str
    key: str
    due_at: datetime
    attempt: int
    max_attempts: int


# --- heartbeats -------------------------------------------------------------------------------


def beat(s: ScopedSession, me: SchedulerIdentity, now: datetime) -> None:
    s.execute(
        "INSERT INTO public.ipai_scheduler_heartbeat (scheduler_id, hostname, pid, version,"
        " job_kinds, workers, interval_s, started_at, last_beat_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (scheduler_id) DO UPDATE"
        " SET last_beat_at = EXCLUDED.last_beat_at, stopped_at = NULL",
        [
            me.scheduler_id,
            me.hostname,
            me.pid,
            me.version,
            list(me.kinds),
            me.workers,
            me.interval_s,
            now,
            now,
        ],
    )


def mark_stopped(s: ScopedSession, scheduler_id: str, now: datetime) -> None:
    s.execute(
        "UPDATE public.ipai_scheduler_heartbeat SET stopped_at = %s, last_beat_at = %s"
        " WHERE scheduler_id = %s",
        [now, now, scheduler_id],
    )


def live_schedulers(s: ScopedSession, now: datetime, grace: timedelta) -> list[Heartbeat]:
    """Schedulers that beat within twice their interval plus `grace` and did not stop: the
    readiness check's answer to "is anything scheduling?"."""
    rows = s.query(
        "SELECT scheduler_id, hostname, pid, version, job_kinds, workers, interval_s, started_at,"
        " last_beat_at, stopped_at FROM public.ipai_scheduler_heartbeat h"
        " WHERE h.stopped_at IS NULL"
        " AND h.last_beat_at >= %(now)s - %(grace)s - make_interval(secs => 2 * h.interval_s)"
        " ORDER BY last_beat_at DESC",
        {"now": now, "grace": grace},
    ).rows()
    return [
        Heartbeat(
            str(r[0]), str(r[1]), int(r[2]), str(r[3]), tuple(r[4]), int(r[5]), float(r[6]), *r[7:]
        )
        for r in rows
    ]


def prune_heartbeats(s: ScopedSession, now: datetime, keep: timedelta) -> int:
    """Forget schedulers silent for longer than `keep` (one row per process start accumulates)."""
    return s.execute(
        "DELETE FROM public.ipai_scheduler_heartbeat WHERE last_beat_at < %s", [now - keep]
    )


# --- enqueueing -------------------------------------------------------------------------------


def last_enqueued(
    s: ScopedSession, kind: str, keys: Collection[str]
) -> dict[tuple[str, str], datetime]:
    """The newest slot in the queue of each key (one index probe per key, however long the
    history grows); keys without any row are absent."""
    rows = s.query(
        "SELECT k, (SELECT max(due_at) FROM public.ipai_scheduled_run r"
        " WHERE r.job_kind = %s AND r.job_key = k) AS last FROM unnest(%s::text[]) AS k",
        [kind, list(keys)],
    ).rows()
    return {(kind, str(k)): last for k, last in rows if last is not None}


def enqueue(
    s: ScopedSession, run: PlannedRun, *, max_attempts: int, enqueued_by: str, now: datetime
) -> bool:
    """Insert the slot unless some scheduler already did; a new slot supersedes this job's older
    queued slots (one run brings the target up to date). True when this call inserted it."""
    inserted = s.scalar(
        "INSERT INTO public.ipai_scheduled_run (job_kind, job_key, connector_id, due_at,"
        " max_attempts, next_attempt_at, enqueued_by) VALUES (%(kind)s, %(key)s,"
        " %(connector)s::uuid, %(due)s, %(max_attempts)s, %(due)s, %(by)s)"
        " ON CONFLICT (job_kind, job_key, due_at) DO NOTHING RETURNING id",
        {
            "kind": run.kind,
            "key": run.key,
            "connector": run.key if run.kind == CONNECTOR_RUN else None,
            "due": run.due_at,
            "max_attempts": max_attempts,
            "by": enqueued_by,
        },
    )
    if inserted is None:
        return False
    s.execute(
        "UPDATE public.ipai_scheduled_run q SET status = 'skipped', finished_at = %(now)s,"
        " error = %(reason)s WHERE q.id IN (SELECT r.id FROM public.ipai_scheduled_run r"
        " WHERE r.status = 'queued' AND r.job_kind = %(kind)s AND r.job_key = %(key)s"
        " AND r.due_at < %(due)s FOR UPDATE SKIP LOCKED)",
        {
            "kind": run.kind,
            "key": run.key,
            "due": run.due_at,
            "now": now,
            "reason": f"superseded by the slot at {run.due_at.isoformat()}",
        },
    )
    return True


def skip_inactive(s: ScopedSession, kind: str, active_keys: Collection[str], now: datetime) -> int:
    """Queued rows of jobs that were disabled, unscheduled or removed since they were enqueued."""
    return s.execute(
        "UPDATE public.ipai_scheduled_run q SET status = 'skipped', finished_at = %(now)s,"
        " error = %(reason)s WHERE q.id IN (SELECT r.id FROM public.ipai_scheduled_run r"
        " WHERE r.status = 'queued' AND r.job_kind = %(kind)s"
        " AND NOT (r.job_key = ANY(%(active)s::text[])) FOR UPDATE SKIP LOCKED)",
        {
            "kind": kind,
            "active": list(active_keys),
            "now": now,
            "reason": "the job is no longer scheduled (disabled, unscheduled or removed)",
        },
    )


# --- claiming and finishing -------------------------------------------------------------------


def claim(
    s: ScopedSession, *, scheduler_id: str, kinds: Sequence[str], now: datetime, limit: int
) -> list[ClaimedJob]:
    """Take up to `limit` due rows: each row is taken by exactly one scheduler (rows another
    transaction holds are skipped, and a row is `running` by the time anyone else can see it).
    A job whose earlier slot is still running waits: its slots never overlap."""
    if limit <= 0:
        return []
    rows = s.query(
        "UPDATE public.ipai_scheduled_run q SET status = 'running', attempt = q.attempt + 1,"
        " claimed_by = %(me)s, claimed_at = %(now)s, error = NULL"
        " WHERE q.id IN (SELECT r.id FROM public.ipai_scheduled_run r WHERE r.status = 'queued'"
        " AND r.next_attempt_at <= %(now)s AND r.job_kind = ANY(%(kinds)s::text[])"
        " AND NOT EXISTS (SELECT 1 FROM public.ipai_scheduled_run o WHERE o.job_kind = r.job_kind"
        " AND o.job_key = r.job_key AND o.status = 'running')"
        " ORDER BY r.next_attempt_at, r.due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
        " RETURNING q.id::text, q.job_kind, q.job_key, q.due_at, q.attempt, q.max_attempts",
        {"me": scheduler_id, "now": now, "kinds": list(kinds), "limit": limit},
    ).rows()
    jobs = [ClaimedJob(str(r[0]), str(r[1]), str(r[2]), r[3], int(r[4]), int(r[5])) for r in rows]
    return sorted(jobs, key=lambda j: (j.due_at, j.key))


def complete(
    s: ScopedSession,
    job: ClaimedJob,
    *,
    scheduler_id: str,
    status: Literal["success", "skipped"],
    now: datetime,
    run_id: str | None = None,
    note: str | None = None,
) -> bool:
    """success or skipped. False when the row is no longer ours (it was reclaimed)."""
    count = s.execute(
        "UPDATE public.ipai_scheduled_run SET status = %(status)s, finished_at = %(now)s,"
        " error = %(note)s, run_id = coalesce(%(run_id)s::uuid, run_id)"
        " WHERE id = %(id)s AND attempt = %(attempt)s AND status = 'running'"
        " AND claimed_by = %(me)s",
        {
            "status": status,
            "now": now,
            "note": note,
            "run_id": run_id,
            "id": job.id,
            "attempt": job.attempt,
            "me": scheduler_id,
        },
    )
    return count == 1


def fail(
    s: ScopedSession,
    job: ClaimedJob,
    *,
    scheduler_id: str,
    error: str,
    now: datetime,
    retry_at: datetime | None,
    run_id: str | None = None,
) -> str | None:
    """Queue the next attempt at `retry_at`, or — out of attempts, or `retry_at` None — mark the
    row failed for good. Returns the new status (None when the row is no longer ours)."""
    final = retry_at is None or job.attempt >= job.max_attempts
    status = s.scalar(
        "UPDATE public.ipai_scheduled_run SET status = %(status)s, finished_at = %(finished)s,"
        " next_attempt_at = coalesce(%(retry_at)s, next_attempt_at), error = %(error)s,"
        " run_id = coalesce(%(run_id)s::uuid, run_id)"
        " WHERE id = %(id)s AND attempt = %(attempt)s AND status = 'running'"
        " AND claimed_by = %(me)s RETURNING status",
        {
            "status": "failed" if final else "queued",
            "finished": now if final else None,
            "retry_at": None if final else retry_at,
            "error": error,
            "run_id": run_id,
            "id": job.id,
            "attempt": job.attempt,
            "me": scheduler_id,
        },
    )
    return None if status is None else str(status)


def requeue(
    s: ScopedSession,
    jobs: Sequence[ClaimedJob],
    *,
    scheduler_id: str,
    retry_at: datetime,
    reason: str,
) -> int:
    """Put running rows back without spending their attempt: the job was busy elsewhere, or this
    scheduler is shutting down before it could finish them."""
    return s.execute(
        "UPDATE public.ipai_scheduled_run SET status = 'queued', attempt = attempt - 1,"
        " next_attempt_at = %s, error = %s WHERE (id, attempt) IN"
        " (SELECT unnest(%s::uuid[]), unnest(%s::int[])) AND status = 'running'"
        " AND claimed_by = %s",
        [retry_at, reason, [j.id for j in jobs], [j.attempt for j in jobs], scheduler_id],
    )


@dataclass(frozen=True)
class Reclaimed:
    id: str
    kind: str
    key: str
    claimed_by: str
    status: str


def reclaim_stale(s: ScopedSession, now: datetime, grace: timedelta) -> list[Reclaimed]:
    """Running rows whose scheduler stopped beating (twice its interval plus `grace`) or stopped
    without finishing them: queued again at once, or failed when that was their last attempt."""
    rows = s.query(
        "UPDATE public.ipai_scheduled_run q SET"
        " status = CASE WHEN q.attempt >= q.max_attempts THEN 'failed' ELSE 'queued' END,"
        " finished_at = CASE WHEN q.attempt >= q.max_attempts THEN %(now)s::timestamptz END,"
        " next_attempt_at = %(now)s,"
        " error = format('scheduler `%%s` stopped during attempt %%s', q.claimed_by, q.attempt)"
        " WHERE q.id IN (SELECT r.id FROM public.ipai_scheduled_run r WHERE r.status = 'running'"
        " AND NOT EXISTS (SELECT 1 FROM public.ipai_scheduler_heartbeat h"
        " WHERE h.scheduler_id = r.claimed_by AND h.stopped_at IS NULL"
        " AND h.last_beat_at >= %(now)s - %(grace)s - make_interval(secs => 2 * h.interval_s))"
        " FOR UPDATE SKIP LOCKED)"
        " RETURNING q.id::text, q.job_kind, q.job_key, q.claimed_by, q.status",
        {"now": now, "grace": grace},
    ).rows()
    return [Reclaimed(*(str(v) for v in r)) for r in rows]


def _version() -> str:
    try:
        return metadata.version("ipai-databricks")
    except metadata.PackageNotFoundError:
        return "unknown"
