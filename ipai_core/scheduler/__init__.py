"""The scheduler: runs scheduled jobs — today connectors on their cron `schedule` — exactly once
per due slot, however many `ipai scheduler` processes share the database.

It owns `ipai_scheduled_run` (one row per cron slot, claimed by one scheduler, retried with
backoff) and `ipai_scheduler_heartbeat` (one row per scheduler process; readiness and stale-claim
recovery read it). `plan` decides which slots are due (pure), `queue` is every statement on those
tables, `loop` is the `Scheduler` that ties them together and runs jobs in a bounded pool.

    from ipai_core.scheduler import Scheduler
    with Lakehouse.open() as lh:
        Scheduler(lh).run_once()
"""

from ipai_core.scheduler.loop import (
    ConnectorRuns,
    FinishedJob,
    JobKind,
    JobOutcome,
    Scheduler,
    SchedulerOptions,
    ShutdownReport,
    TickReport,
    default_kinds,
)
from ipai_core.scheduler.plan import Plan, PlannedRun, RetryPolicy, Schedulable, plan_runs
from ipai_core.scheduler.queue import ClaimedJob, Heartbeat, SchedulerIdentity, live_schedulers

__all__ = [
    "ClaimedJob",
    "ConnectorRuns",
    "FinishedJob",
    "Heartbeat",
    "JobKind",
    "JobOutcome",
    "Plan",
    "PlannedRun",
    "RetryPolicy",
    "Schedulable",
    "Scheduler",
    "SchedulerIdentity",
    "SchedulerOptions",
    "ShutdownReport",
    "TickReport",
    "default_kinds",
    "live_schedulers",
    "plan_runs",
]
