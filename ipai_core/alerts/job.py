"""The scheduler's `alert_delivery` job: drains the outbox every minute while any destination is
enabled. Delivery runs here, never on a connector's path, so a dead destination delays nothing
but its own messages."""

from __future__ import annotations

from ipai_core.alerts.delivery import deliver_due
from ipai_core.db.scoped import ScopedSession
from ipai_core.lakehouse import Lakehouse
from ipai_core.scheduler.loop import JobOutcome
from ipai_core.scheduler.plan import Schedulable
from ipai_core.scheduler.queue import ClaimedJob

EVERY_MINUTE = "* * * * *"


class AlertDeliveries:
    """One target, `outbox`, due every minute from the first enabled destination's creation."""

    name = "alert_delivery"

    def targets(self, s: ScopedSession) -> list[Schedulable]:
        since = s.scalar("SELECT min(created_at) FROM public.ipai_alert_destination WHERE enabled")
        if since is None:
            return []
        return [Schedulable(self.name, "outbox", EVERY_MINUTE, True, since, "webhook outbox")]

    def run(self, lh: Lakehouse, job: ClaimedJob) -> JobOutcome:
        """Failed deliveries are retried by the outbox itself; the job only fails when it
        could not run (the database was away), and the scheduler retries that."""
        return JobOutcome("success", str(deliver_due(lh)))
