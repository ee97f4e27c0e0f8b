"""`ipai scheduler`: run enabled connectors on their cron schedules, on as many machines as you
like (each due run happens once). `--once` runs one pass and exits (for cron or CI)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ipai_core.alerts.job import AlertDeliveries
from ipai_core.lakehouse import Lakehouse
from ipai_core.observability import start as start_observability
from ipai_core.observability.jobs import SideScheduler
from ipai_core.quality.schedule import ScheduledChecks
from ipai_core.scheduler import (
    RetryPolicy,
    Scheduler,
    SchedulerOptions,
    ShutdownReport,
    default_kinds,
)

_RELEASED_EXIT = 3


def scheduler(
    interval: Annotated[
        float, typer.Option(help="Seconds between passes (and heartbeats).", min=0.1)
    ] = 15.0,
    workers: Annotated[int, typer.Option(help="Jobs run at the same time.", min=1)] = 2,
    once: Annotated[
        bool, typer.Option("--once", help="Run one pass, wait for its jobs, then exit.")
    ] = False,
    max_attempts: Annotated[
        int, typer.Option(help="Attempts per due run before it is marked failed.", min=1)
    ] = 3,
) -> None:
    """Run connectors and data quality checks on their cron `schedule` (UTC), deliver
    alerts and run events to webhooks, evaluate alert rules and probe the workspace's uptime
    every minute, and prune old telemetry daily: every due run exactly once across all schedulers,
    retried with backoff. SIGTERM/Ctrl-C finishes the running jobs; a second one
    hands them back to the queue and exits."""
    telemetry = start_observability("scheduler")
    options = SchedulerOptions(
        interval_s=interval, workers=workers, retry=RetryPolicy(max_attempts=max_attempts)
    )
    with Lakehouse.open() as lh:
        kinds = [*default_kinds(), ScheduledChecks(), AlertDeliveries()]
        loop = Scheduler(lh, options=options, kinds=kinds)
        side = SideScheduler(lh, options)  # uptime probes, alert rules, telemetry retention
        typer.echo(f"scheduler {loop.identity.scheduler_id}: {workers} worker(s)", err=True)
        with loop.handle_signals():
            if once:
                report, side_report = loop.run_once(), side.run_once()
            else:
                side.start()
                try:
                    report = loop.run_forever()
                finally:
                    side_report = side.stop()
        _print(report)
        _print(side_report)
        if report.released:
            # Their runs still hold worker threads; ending the process ends them (the sync
            # engine makes a killed run safe) so another scheduler can take the jobs.
            telemetry.flush(timeout_s=5)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(_RELEASED_EXIT)
    if any(f.outcome.status == "failed" for f in (*report.finished, *side_report.finished)):
        raise typer.Exit(1)


def _print(report: ShutdownReport) -> None:
    for f in report.finished:
        detail = f" — {f.outcome.detail}" if f.outcome.detail else ""
        typer.echo(
            f"{f.job.kind} {f.job.key} slot {f.job.due_at.isoformat()} attempt {f.job.attempt}: "
            f"{f.outcome.status} (row {f.row_status or 'reclaimed'}){detail}"
        )
    if report.released:
        typer.echo(f"released {report.released} running job(s) back to the queue", err=True)
