"""`Scheduler`: the loop that enqueues due slots, claims them and runs them in a bounded pool.

One `tick()` is one transaction as the service role: beat, reclaim the rows of schedulers that
stopped beating, enqueue every kind's due slots (`plan.plan_runs`), claim as many due rows as
there are free workers. The claimed jobs then run in worker threads, each recording its outcome
in its own short transaction — a slow or crashing job never holds up the loop or the others.

Job kinds are pluggable: a `JobKind` lists its schedulable targets and runs one claimed job.
`ConnectorRuns` is the first; alert evaluation and uptime probes (issue 7) are further kinds
passed to `Scheduler(kinds=...)` — the queue, retries, heartbeats and shutdown stay as they are.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Literal, Protocol

from ipai_core.connectors.store import get_connector, list_connectors
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, ConnectorBusy, IpaiError, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.scheduler import queue
from ipai_core.scheduler.plan import PlannedRun, RetryPolicy, Schedulable, plan_runs
from ipai_core.scheduler.queue import ClaimedJob, Reclaimed, SchedulerIdentity
from ipai_core.sync.engine import run_connector

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_KEEP_FINISHED = 1000  # outcomes kept for `drain()` / the shutdown report


@dataclass(frozen=True)
class JobOutcome:
    """How one attempt ended. `busy`: the target was running elsewhere — queued again later
    without spending an attempt. A `failed` outcome is retried unless `retryable` is False."""

    status: Literal["success", "failed", "skipped", "busy"]
    detail: str | None = None
    run_id: str | None = None
    retryable: bool = True


class JobKind(Protocol):
    """A kind of scheduled job. `name` is stored as `ipai_scheduled_run.job_kind`."""

    name: str

    def targets(self, s: ScopedSession) -> list[Schedulable]:
        """Everything of this kind that may have a schedule (disabled ones included)."""
        ...

    def run(self, lh: Lakehouse, job: ClaimedJob) -> JobOutcome:
        """Run one claimed slot; an exception counts as a retryable failure."""
        ...


class ConnectorRuns:
    """Connectors with a cron `schedule`, run through `run_connector` (which also holds the
    per-connector lock, so a manual run and a scheduled one never overlap)."""

    name = queue.CONNECTOR_RUN

    def targets(self, s: ScopedSession) -> list[Schedulable]:
        return [
            Schedulable(self.name, r.id, r.schedule, r.is_enabled, r.created_at, r.name)
            for r in list_connectors(s)
        ]

    def run(self, lh: Lakehouse, job: ClaimedJob) -> JobOutcome:
        try:
            record = get_connector(lh, job.key)
        except NotFound:
            return JobOutcome("skipped", "the connector was removed")
        if not record.is_enabled:
            return JobOutcome("skipped", f"connector `{record.name}` is disabled")
        try:
            result = run_connector(lh, record.id, triggered_by="scheduler")
        except ConnectorBusy as exc:
            return JobOutcome("busy", str(exc))
        except ConfigError as exc:  # an invalid config does not heal by retrying
            return JobOutcome("failed", str(exc), retryable=False)
        if result.ok:
            return JobOutcome("success", run_id=result.run_id)
        return JobOutcome("failed", result.error, run_id=result.run_id)


def default_kinds() -> tuple[JobKind, ...]:
    return (ConnectorRuns(),)


@dataclass(frozen=True)
class SchedulerOptions:
    """`interval_s` between loops (and heartbeats); `workers` jobs at once; a claim counts as
    abandoned when its scheduler has not beaten for twice its interval plus `stale_grace`."""

    interval_s: float = 15.0
    workers: int = 2
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stale_grace: timedelta = timedelta(seconds=30)
    heartbeat_retention: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.workers < 1:
            raise ConfigError(
                f"the scheduler needs interval > 0 and workers ≥ 1, got interval "
                f"`{self.interval_s}` and workers `{self.workers}`"
            )


@dataclass(frozen=True)
class TickReport:
    enqueued: tuple[PlannedRun, ...]
    claimed: tuple[ClaimedJob, ...]
    reclaimed: tuple[Reclaimed, ...]


@dataclass(frozen=True)
class FinishedJob:
    """An attempt this scheduler ran; `row_status` is the row's status afterwards (queued when
    a retry is planned), None when the row was no longer this scheduler's to update."""

    job: ClaimedJob
    outcome: JobOutcome
    row_status: str | None


@dataclass(frozen=True)
class ShutdownReport:
    finished: tuple[FinishedJob, ...]
    released: int  # running jobs handed back to the queue (abort); 0 after a full drain


class Scheduler:
    """Enqueues, claims and runs scheduled jobs; many may run against one database.

    `clock` is the time seam: None uses the database's clock (one clock for every machine).
    """

    def __init__(
        self,
        lakehouse: Lakehouse,
        *,
        options: SchedulerOptions | None = None,
        kinds: Sequence[JobKind] | None = None,
        clock: Clock | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._lh = lakehouse
        self.options = options or SchedulerOptions()
        self._kinds = _registry(default_kinds() if kinds is None else kinds)
        self._clock = clock
        self._jitter = jitter
        self.identity = SchedulerIdentity.of_this_process(
            kinds=sorted(self._kinds),
            workers=self.options.workers,
            interval_s=self.options.interval_s,
        )
        self._pool = futures.ThreadPoolExecutor(
            self.options.workers, thread_name_prefix="ipai-scheduler"
        )
        self._lock = threading.Lock()
        self._running: dict[futures.Future[None], ClaimedJob] = {}
        self._finished: deque[FinishedJob] = deque(maxlen=_KEEP_FINISHED)
        self._unrecorded: list[tuple[ClaimedJob, JobOutcome]] = []
        self._stopping = threading.Event()
        self._aborted = threading.Event()
        self._wake = threading.Event()
        self._last_beat = 0.0

    # --- the public loop ----------------------------------------------------------------------

    def tick(self) -> TickReport:
        """One pass: beat, reclaim, enqueue due slots, claim for the free workers, dispatch."""
        self._record_pending_outcomes()
        with self._session("tick") as s:
            now = self._now(s)
            self._beat(s, now)
            reclaimed = tuple(queue.reclaim_stale(s, now, self.options.stale_grace))
            self._audit_reclaimed(s, reclaimed)
            enqueued = self._enqueue(s, now)
            claimed = () if self._stopping.is_set() else self._claim(s, now)
            queue.prune_heartbeats(s, now, self.options.heartbeat_retention)
        for job in claimed:
            self._dispatch(job)
        return TickReport(enqueued, claimed, reclaimed)

    def run_forever(self) -> ShutdownReport:
        """Tick every `interval_s` (sooner when a worker frees up) until `stop()`, then drain."""
        log.info("scheduler %s started: %s", self.identity.scheduler_id, self.options)
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # the database may be away for a while: keep looping
                log.exception("scheduler tick failed; next try in %ss", self.options.interval_s)
            self._wake.wait(self.options.interval_s)
            self._wake.clear()
        return self.close()

    def run_once(self) -> ShutdownReport:
        """One tick, then wait for the jobs it started (`ipai scheduler --once`)."""
        try:
            self.tick()
        finally:
            report = self.close()
        return report

    def drain(self, timeout: float | None = None) -> tuple[FinishedJob, ...]:
        """Wait for running jobs (beating meanwhile); return the attempts finished since the last
        call. Returns early on `abort()` or after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (pending := self._pending()) and not self._aborted.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            futures.wait(pending, timeout=0.2)
            if time.monotonic() - self._last_beat >= self.options.interval_s:
                with suppress(Exception), self._session("heartbeat") as s:
                    self._beat(s, self._now(s))
        self._record_pending_outcomes()
        with self._lock:
            finished = tuple(self._finished)
            self._finished.clear()
        return finished

    def stop(self) -> None:
        """Claim nothing more; `run_forever` returns once the running jobs finished."""
        self._stopping.set()
        self._wake.set()

    def abort(self) -> None:
        """Stop waiting for running jobs: they are handed back to the queue (the caller then
        ends the process, which ends their runs; the sync engine makes that safe)."""
        self._aborted.set()
        self.stop()

    def close(self) -> ShutdownReport:
        """Stop, wait for the running jobs (or, after `abort()`, hand them back to the queue)
        and mark this scheduler stopped."""
        self.stop()
        finished = self.drain()
        released = 0
        abandoned = list(self._running_jobs())
        if abandoned:
            with self._session("release at shutdown") as s:
                now = self._now(s)
                released = queue.requeue(
                    s,
                    abandoned,
                    scheduler_id=self.identity.scheduler_id,
                    retry_at=now,
                    reason=f"released by scheduler `{self.identity.scheduler_id}` at shutdown",
                )
        with self._session("stopped") as s:
            queue.mark_stopped(s, self.identity.scheduler_id, self._now(s))
        self._pool.shutdown(wait=not abandoned, cancel_futures=True)
        log.info("scheduler %s stopped (%s job(s) released)", self.identity.scheduler_id, released)
        return ShutdownReport(finished, released)

    @contextmanager
    def handle_signals(self) -> Iterator[None]:
        """SIGTERM/SIGINT: the first stops and drains, a second one aborts. Main thread only."""

        received: list[int] = []

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            received.append(signum)
            name = signal.Signals(signum).name
            if len(received) > 1:
                log.warning("%s again: releasing running jobs back to the queue", name)
                self.abort()
            else:
                log.info("%s: finishing running jobs (send it again to release them)", name)
                self.stop()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # --- one tick -----------------------------------------------------------------------------

    def _enqueue(self, s: ScopedSession, now: datetime) -> tuple[PlannedRun, ...]:
        planned: list[PlannedRun] = []
        for kind in self._kinds.values():
            try:  # a savepoint: one broken kind does not stop the others
                with s.connection.transaction():
                    planned += self._plan_kind(s, kind, now)
            except Exception:
                log.exception("planning `%s` jobs failed; the other kinds go on", kind.name)
        planned.sort(key=lambda r: (r.kind, r.key, r.due_at))  # one lock order everywhere
        max_attempts = self.options.retry.max_attempts
        me = self.identity.scheduler_id
        return tuple(
            r
            for r in planned
            if queue.enqueue(s, r, max_attempts=max_attempts, enqueued_by=me, now=now)
        )

    def _plan_kind(self, s: ScopedSession, kind: JobKind, now: datetime) -> list[PlannedRun]:
        targets = kind.targets(s)
        scheduled = [t.key for t in targets if t.enabled and t.schedule]
        plan = plan_runs(targets, queue.last_enqueued(s, kind.name, scheduled), now)
        for target, problem in plan.invalid:
            log.warning("`%s` %s is not scheduled: %s", kind.name, target.label, problem)
        queue.skip_inactive(s, kind.name, [key for _, key in plan.active], now)
        return list(plan.runs)

    def _claim(self, s: ScopedSession, now: datetime) -> tuple[ClaimedJob, ...]:
        with self._lock:
            free = self.options.workers - len(self._running)
        jobs = queue.claim(
            s,
            scheduler_id=self.identity.scheduler_id,
            kinds=list(self._kinds),
            now=now,
            limit=free,
        )
        return tuple(jobs)

    def _dispatch(self, job: ClaimedJob) -> None:
        with self._lock:
            future = self._pool.submit(self._execute, job)
            self._running[future] = job
        future.add_done_callback(self._forget)

    def _forget(self, future: futures.Future[None]) -> None:
        with self._lock:
            self._running.pop(future, None)
        self._wake.set()

    # --- one job (in a worker thread) ---------------------------------------------------------

    def _execute(self, job: ClaimedJob) -> None:
        log.info("running %s %s (slot %s, attempt %s)", job.kind, job.key, job.due_at, job.attempt)
        try:
            outcome = self._kinds[job.kind].run(self._lh, job)
        except Exception as exc:  # recorded on the row and retried; the loop goes on
            log.exception("%s %s crashed", job.kind, job.key)
            outcome = JobOutcome("failed", _describe(exc))
        try:
            self._record(job, outcome)
        except Exception:  # the database is away: keep the outcome and record it next tick
            log.exception("could not record %s %s; will retry", job.kind, job.key)
            with self._lock:
                self._unrecorded.append((job, outcome))

    def _record(self, job: ClaimedJob, outcome: JobOutcome) -> None:
        with self._session("record job") as s:
            row_status = self._settle(s, job, outcome, self._now(s))
        if row_status is None:
            log.warning("%s %s is no longer this scheduler's (reclaimed)", job.kind, job.key)
        log.info("%s %s: %s → row %s", job.kind, job.key, outcome.status, row_status)
        with self._lock:
            self._finished.append(FinishedJob(job, outcome, row_status))

    def _settle(
        self, s: ScopedSession, job: ClaimedJob, outcome: JobOutcome, now: datetime
    ) -> str | None:
        """Write the outcome to the row; its new status, or None when the row is not ours."""
        me, retry = self.identity.scheduler_id, self.options.retry
        if outcome.status == "busy":
            retry_at = now + retry.delay(1, self._jitter())
            reason = outcome.detail or "busy"
            moved = queue.requeue(s, [job], scheduler_id=me, retry_at=retry_at, reason=reason)
            return "queued" if moved else None
        if outcome.status == "failed":
            retry_at = now + retry.delay(job.attempt, self._jitter())
            return queue.fail(
                s,
                job,
                scheduler_id=me,
                error=outcome.detail or "failed",
                now=now,
                retry_at=retry_at if outcome.retryable else None,
                run_id=outcome.run_id,
            )
        done = queue.complete(
            s,
            job,
            scheduler_id=me,
            status=outcome.status,
            now=now,
            run_id=outcome.run_id,
            note=outcome.detail,
        )
        return outcome.status if done else None

    def _record_pending_outcomes(self) -> None:
        with self._lock:
            pending, self._unrecorded = self._unrecorded, []
        for job, outcome in pending:
            try:
                self._record(job, outcome)
            except Exception:
                log.exception("still cannot record %s %s; will retry", job.kind, job.key)
                with self._lock:
                    self._unrecorded.append((job, outcome))

    # --- helpers ------------------------------------------------------------------------------

    def _pending(self) -> list[futures.Future[None]]:
        with self._lock:
            return list(self._running)

    def _running_jobs(self) -> list[ClaimedJob]:
        with self._lock:
            return list(self._running.values())

    def _session(self, what: str) -> AbstractContextManager[ScopedSession]:
        return self._lh.session(
            Principal.service(f"scheduler {self.identity.scheduler_id}: {what}")
        )

    def _now(self, s: ScopedSession) -> datetime:
        if self._clock is not None:
            return self._clock()
        now: datetime = s.scalar("SELECT now()")
        return now

    def _beat(self, s: ScopedSession, now: datetime) -> None:
        queue.beat(s, self.identity, now)
        self._last_beat = time.monotonic()

    def _audit_reclaimed(self, s: ScopedSession, reclaimed: Sequence[Reclaimed]) -> None:
        for r in reclaimed:
            log.warning("reclaimed %s %s from stopped scheduler %s", r.kind, r.key, r.claimed_by)
            s.execute(
                "SELECT public.ipai_audit('scheduler', 'scheduled_run', %s::uuid, 'reclaimed',"
                " jsonb_build_object('job_kind', %s::text, 'job_key', %s::text,"
                " 'claimed_by', %s::text, 'status', %s::text))",
                [r.id, r.kind, r.key, r.claimed_by, r.status],
            )


def _registry(kinds: Sequence[JobKind]) -> dict[str, JobKind]:
    registry: dict[str, JobKind] = {}
    for kind in kinds:
        if kind.name in registry:
            raise ConfigError(
                f"job kind `{kind.name}` is given twice; pass each kind once "
                f"(given: {', '.join(k.name for k in kinds)})"
            )
        registry[kind.name] = kind
    return registry


def _describe(exc: BaseException) -> str:
    if isinstance(exc, IpaiError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".strip()
