"""Retention of telemetry: spans, per-minute metric points and uptime probes older than their
setting (`IPAI_SPAN_RETENTION_DAYS`, `IPAI_METRIC_RETENTION_DAYS`, `IPAI_UPTIME_RETENTION_DAYS`)
are deleted by the scheduler's daily `telemetry_retention` job."""

from __future__ import annotations

from dataclasses import dataclass

from ipai_core.db.scoped import ScopedSession
from ipai_core.settings import Settings


@dataclass(frozen=True)
class Pruned:
    spans: int
    metric_points: int
    uptime_probes: int

    def describe(self) -> str:
        return (
            f"deleted {self.spans} span(s), {self.metric_points} metric point(s), "
            f"{self.uptime_probes} uptime probe(s)"
        )


def prune(s: ScopedSession, settings: Settings) -> Pruned:
    return Pruned(
        spans=s.execute(
            "DELETE FROM public.ipai_span WHERE started_at < now() - make_interval(days => %s)",
            [settings.span_retention_days],
        ),
        metric_points=s.execute(
            "DELETE FROM public.ipai_metric_point WHERE bucket < now() - make_interval(days => %s)",
            [settings.metric_retention_days],
        ),
        uptime_probes=s.execute(
            "DELETE FROM public.ipai_uptime_probe"
            " WHERE probed_at < now() - make_interval(days => %s)",
            [settings.uptime_retention_days],
        ),
    )
