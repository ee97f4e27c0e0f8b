"""Readiness, for `/readyz`: the database answers and at least one scheduler is beating.

Liveness (`/healthz`) only says the process and its database are up. Readiness adds the
scheduler: with no scheduler alive nothing syncs, no alert is evaluated and no uptime is
measured, so a load balancer or an orchestrator should not call the installation ready.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from ipai_core.db.principal import Principal
from ipai_core.errors import IpaiError
from ipai_core.lakehouse import Lakehouse
from ipai_core.scheduler.queue import live_schedulers


@dataclass(frozen=True)
class Readiness:
    database: bool
    schedulers: int
    last_beat_at: datetime | None = None

    @property
    def ready(self) -> bool:
        return self.database and self.schedulers > 0

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "unavailable",
            "database": "up" if self.database else "down",
            "scheduler": "live" if self.schedulers else "none",
            "live_schedulers": self.schedulers,
            "last_beat_at": None if self.last_beat_at is None else self.last_beat_at.isoformat(),
        }


def check_readiness(lh: Lakehouse) -> Readiness:
    """Never raises: an unreachable database is a `database: down` answer."""
    if not lh.db.ping():
        return Readiness(database=False, schedulers=0)
    grace = timedelta(seconds=lh.settings.readiness_scheduler_grace_s)
    try:
        with lh.session(Principal.service("readiness check")) as s:
            live = live_schedulers(s, s.scalar("SELECT now()"), grace)
    except (IpaiError, psycopg.Error):
        return Readiness(database=False, schedulers=0)
    return Readiness(True, len(live), live[0].last_beat_at if live else None)
