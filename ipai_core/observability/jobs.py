"""The scheduler job kinds of observability, passed to `Scheduler(kinds=...)` by
`ipai scheduler` beside the connector runs:

    uptime_probe         every minute: GET the workspace's /healthz, record up/down + latency
    alert_rules          each enabled rule on its own cron schedule: evaluate, fire or resolve
    telemetry_retention  daily at 03:17 UTC: delete spans, metric points and probes past retention

They use the scheduler's queue like connectors do: each slot runs once across every scheduler,
failures are retried with backoff, and every outcome is on `ipai_scheduled_run`. `ipai scheduler`
runs them in a `SideScheduler` of one worker beside the main loop, so a probe or an alert never
waits for a worker behind hours-long syncs (and a sync never waits behind them).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
from datetime import UTC, datetime

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.observability import alert_rules, retention, uptime
from ipai_core.observability.context import log_context
from ipai_core.scheduler.loop import (
    JobKind,
    JobOutcome,
    Scheduler,
    SchedulerOptions,
    ShutdownReport,
)
from ipai_core.scheduler.plan import Schedulable
from ipai_core.scheduler.queue import ClaimedJob
from ipai_core.settings import Settings

EVERY_MINUTE = "* * * * *"
DAILY = "17 3 * * *"
WORKSPACE = "workspace"
# Probes and retention belong to the installation, not to a row with a creation time: their
# first slot is the latest one before the scheduler's first tick.
_SINCE = datetime(2026, 1, 1, tzinfo=UTC)


class UptimeProbes:
    """One target (`workspace`) probed at `url` every minute."""

    name = "uptime_probe"

    def __init__(self, url: str, *, target: str = WORKSPACE, schedule: str = EVERY_MINUTE):
        self.url, self.target, self.schedule = url, target, schedule

    def targets(self, s: ScopedSession) -> list[Schedulable]:
        return [Schedulable(self.name, self.target, self.schedule, True, _SINCE, self.url)]

    def run(self, lh: Lakehouse, job: ClaimedJob) -> JobOutcome:
        with log_context(job_kind=self.name, job_key=job.key):
            result = uptime.probe(job.key, self.url)
            with lh.session(Principal.service(f"uptime probe {job.key}")) as s:
                uptime.record(s, result, probed_by=f"{socket.gethostname()}:{os.getpid()}")
        state = "up" if result.up else f"down ({result.error})"
        return JobOutcome("success", f"{job.key} {state} in {result.latency_ms:.0f} ms")


class AlertRules:
    """Every row of `ipai_alert_rule`, each on its own schedule; disabled ones are skipped."""

    name = "alert_rules"

    def targets(self, s: ScopedSession) -> list[Schedulable]:
        return [
            Schedulable(self.name, r.id, r.schedule, r.enabled, r.created_at, r.name)
            for r in alert_rules.list_rules(s)
        ]

    def run(self, lh: Lakehouse, job: ClaimedJob) -> JobOutcome:
        with (
            log_context(job_kind=self.name, job_key=job.key),
            lh.session(Principal.service(f"alert rule {job.key}")) as s,
        ):
            try:
                rule = alert_rules.get_rule(s, job.key)
            except NotFound:
                return JobOutcome("skipped", "the rule was removed")
            if not rule.enabled:
                return JobOutcome("skipped", f"alert rule `{rule.name}` is disabled")
            try:
                evaluation = alert_rules.evaluate(s, rule)
            except ConfigError as exc:  # bad params do not heal by retrying
                return JobOutcome("failed", str(exc), retryable=False)
        return JobOutcome("success", f"{rule.name}: {evaluation.describe()}")


class TelemetryRetention:
    name = "telemetry_retention"

    def __init__(self, settings: Settings, *, schedule: str = DAILY) -> None:
        self.settings, self.schedule = settings, schedule

    def targets(self, s: ScopedSession) -> list[Schedulable]:
        return [Schedulable(self.name, "telemetry", self.schedule, True, _SINCE, "retention")]

    def run(self, lh: Lakehouse, job: ClaimedJob) -> JobOutcome:
        with lh.session(Principal.service("telemetry retention")) as s:
            pruned = retention.prune(s, self.settings)
        return JobOutcome("success", pruned.describe())


def observability_kinds(settings: Settings) -> tuple[JobKind, ...]:
    """The job kinds `ipai scheduler` adds to the connector runs."""
    return (UptimeProbes(uptime.health_url(settings)), AlertRules(), TelemetryRetention(settings))


class SideScheduler:
    """The observability kinds in a scheduler of their own (one worker, the main loop's interval
    and retries), run in a thread beside the main loop, or once."""

    def __init__(self, lh: Lakehouse, options: SchedulerOptions) -> None:
        self.scheduler = Scheduler(
            lh,
            options=dataclasses.replace(options, workers=1),
            kinds=observability_kinds(lh.settings),
        )
        self._thread: threading.Thread | None = None
        self._report = ShutdownReport((), 0)

    def start(self) -> None:
        def loop() -> None:
            self._report = self.scheduler.run_forever()

        self._thread = threading.Thread(target=loop, name="ipai-observability", daemon=True)
        self._thread.start()

    def stop(self) -> ShutdownReport:
        """Stop claiming, let the running probe or evaluation finish, and report."""
        self.scheduler.stop()
        if self._thread is not None:
            self._thread.join()
        return self._report

    def run_once(self) -> ShutdownReport:
        return self.scheduler.run_once()
