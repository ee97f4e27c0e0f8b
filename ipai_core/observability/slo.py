"""SLO status as `public.ipai_slo_status` computes it, typed, for `ipai slo status` and the
workspace's Observability page. The arithmetic lives in the view (one definition for every
reader); this module only reads and formats it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ipai_core.db.scoped import ScopedSession

_SHARE_KINDS = ("connector_success_rate", "app_availability")


@dataclass(frozen=True)
class SloStatus:
    name: str
    kind: str
    subject: str
    description: str
    objective: float
    window: timedelta
    events: int
    bad: int
    current_value: float | None  # share, ms, or failed calls per day (None: no events yet)
    objective_met: bool
    error_budget: float
    budget_remaining: float
    burn_rate_1h: float
    burn_rate_6h: float
    burn_rate_window: float

    @property
    def label(self) -> str:
        return self.name if self.subject == "all" else f"{self.name} ({self.subject})"

    def show(self, value: float | None) -> str:
        """A value of this SLO's unit for people: `99.50 %`, `4,210 ms`, `3 / day`."""
        if value is None:
            return "—"
        if self.kind in _SHARE_KINDS:
            return f"{value * 100:.2f} %"
        if self.kind == "agent_p95_latency":
            return f"{value:,.0f} ms"
        return f"{value:g} / day"

    def as_json(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.__dict__.items() if k != "window"},
            "window_seconds": self.window.total_seconds(),
        }


def slo_status(s: ScopedSession) -> list[SloStatus]:
    """Every enabled SLO (per project for per-project kinds) as the session's role may see it."""
    rows = s.query(
        "SELECT name, kind, subject, description, objective, time_window, events, bad,"
        " current_value, objective_met, error_budget, budget_remaining, burn_rate_1h,"
        " burn_rate_6h, burn_rate_window FROM public.ipai_slo_status ORDER BY name, subject"
    )
    return [
        SloStatus(
            name=r["name"],
            kind=r["kind"],
            subject=r["subject"],
            description=r["description"],
            objective=float(r["objective"]),
            window=r["time_window"],
            events=int(r["events"]),
            bad=int(r["bad"]),
            current_value=None if r["current_value"] is None else float(r["current_value"]),
            objective_met=bool(r["objective_met"]),
            error_budget=float(r["error_budget"]),
            budget_remaining=float(r["budget_remaining"]),
            burn_rate_1h=float(r["burn_rate_1h"]),
            burn_rate_6h=float(r["burn_rate_6h"]),
            burn_rate_window=float(r["burn_rate_window"]),
        )
        for r in rows.iter_rows(named=True)
    ]
