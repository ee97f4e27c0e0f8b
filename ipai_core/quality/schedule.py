"""The scheduler's `dq_check` job: each enabled check with a cron `schedule` runs on it (trigger
`schedule`), once per slot however many schedulers run."""

from __future__ import annotations

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.lakehouse import Lakehouse
from ipai_core.quality.runner import run_check
from ipai_core.quality.store import list_checks
from ipai_core.scheduler.loop import JobOutcome
from ipai_core.scheduler.plan import Schedulable
from ipai_core.scheduler.queue import ClaimedJob


class ScheduledChecks:
    """Targets are the checks (key: the check's id), due from their creation."""

    name = "dq_check"

    def targets(self, s: ScopedSession) -> list[Schedulable]:
        return [
            Schedulable(self.name, c.id, c.schedule, c.enabled, c.created_at, c.name)
            for c in list_checks(s)
        ]

    def run(self, lh: Lakehouse, job: ClaimedJob) -> JobOutcome:
        """A failing check is a result and an alert, not a failed job; a check that could not
        run (`error`) is, and the scheduler retries it."""
        with lh.session(Principal.service("data quality: scheduled check")) as s:
            found = [c for c in list_checks(s, enabled_only=True) if c.id == job.key]
        if not found:
            return JobOutcome("skipped", "the check was removed or disabled")
        outcome = run_check(lh, found[0], trigger="schedule")
        detail = f"{outcome.check}: {outcome.status} — {outcome.message}"
        if outcome.status == "error":
            return JobOutcome("failed", detail)
        return JobOutcome("success", detail)
