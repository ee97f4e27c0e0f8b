"""`ipai scheduler`: run enabled connectors on their cron schedules, on as many machines as you
like (each due run happens once). `--once` runs one pass and exits (for cron or CI)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from ipai_core.lakehouse import Lakehouse
from ipai_core.scheduler import RetryPolicy, Scheduler, SchedulerOptions, ShutdownReport

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
    """Run connectors on their cron `schedule` (UTC): every due run exactly once across all
    schedulers, retried with backoff. SIGTERM/Ctrl-C finishes the running jobs; a second one
    hands them back to the queue and exits."""
    _log_to_stderr()
    options = SchedulerOptions(
        interval_s=interval, workers=workers, retry=RetryPolicy(max_attempts=max_attempts)
    )
    with Lakehouse.open() as lh:
        loop = Scheduler(lh, options=options)
        typer.echo(f"scheduler {loop.identity.scheduler_id}: {workers} worker(s)", err=True)
        with loop.handle_signals():
            report = loop.run_once() if once else loop.run_forever()
        _print(report)
        if report.released:
            # Their runs still hold worker threads; ending the process ends them (the sync
            # engine makes a killed run safe) so another scheduler can take the jobs.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(_RELEASED_EXIT)
    if any(f.outcome.status == "failed" for f in report.finished):
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


def _log_to_stderr() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
