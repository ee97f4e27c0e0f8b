"""What the workspace's Observability page shows, read as the signed-in user (the guarded views
and RLS decide what comes back): SLO status and burn, connector run durations, rows and bytes
over time, agent latency p95, recent errors, recent traces with their spans, and metric points.
Pages lay these frames out; no SQL lives in them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession

OBSERVER_ROLES = ("admin", "devops", "auditor")


def can_observe(principal: Principal) -> bool:
    """Whether the workspace offers the Observability page (the database enforces it again)."""
    return bool(set(OBSERVER_ROLES) & set(principal.roles))


def connector_runs(s: ScopedSession, since: timedelta) -> pl.DataFrame:
    """Finished runs: started_at, connector, status, duration_s, rows_written, bytes_read."""
    return s.query(
        "SELECT started_at, connector, status, duration_s, rows_read, rows_written, bytes_read,"
        " error_message FROM public.ipai_observed_connector_run"
        " WHERE started_at > now() - %s AND status IN ('success', 'failed') ORDER BY started_at",
        [since],
    )


def volume_by_hour(s: ScopedSession, since: timedelta) -> pl.DataFrame:
    """Rows written and bytes read per hour and connector."""
    return s.query(
        "SELECT date_trunc('hour', started_at) AS hour, connector,"
        " sum(rows_written)::bigint AS rows_written, sum(bytes_read)::bigint AS bytes_read"
        " FROM public.ipai_observed_connector_run WHERE started_at > now() - %s"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [since],
    )


def agent_latency_by_hour(s: ScopedSession, since: timedelta) -> pl.DataFrame:
    """p50 and p95 latency (ms) and call counts per hour and agent."""
    return s.query(
        "SELECT date_trunc('hour', started_at) AS hour, agent, count(*) AS calls,"
        " count(*) FILTER (WHERE status = 'failed') AS failed,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms"
        " FROM public.ipai_observed_agent_call WHERE started_at > now() - %s"
        " AND status IN ('success', 'failed') GROUP BY 1, 2 ORDER BY 1, 2",
        [since],
    )


def recent_errors(s: ScopedSession, limit: int = 50) -> pl.DataFrame:
    """The latest failures of connector runs, agent calls and spans, newest first."""
    return s.query(
        "SELECT * FROM (SELECT started_at AS at, 'connector' AS source, connector AS subject,"
        " error_message AS error FROM public.ipai_observed_connector_run WHERE status = 'failed'"
        " UNION ALL SELECT started_at, 'agent', agent || ' · ' || coalesce(tool, ''),"
        " error_message FROM public.ipai_observed_agent_call WHERE status = 'failed'"
        " UNION ALL SELECT started_at, 'span', name || ' · ' || service, status_message"
        " FROM public.ipai_span WHERE status = 'error' AND parent_span_id IS NULL) e"
        " ORDER BY at DESC LIMIT %s",
        [limit],
    )


def recent_traces(s: ScopedSession, limit: int = 50) -> pl.DataFrame:
    """Root spans, newest first: trace_id, name, service, started_at, duration_ms, status."""
    return s.query(
        "SELECT r.trace_id, r.name, r.service, r.started_at, r.duration_ms, r.status,"
        " (SELECT count(*) FROM public.ipai_span c WHERE c.trace_id = r.trace_id) AS spans"
        " FROM public.ipai_span r WHERE r.parent_span_id IS NULL"
        " ORDER BY r.started_at DESC LIMIT %s",
        [limit],
    )


def trace_spans(s: ScopedSession, trace_id: str) -> pl.DataFrame:
    """Every span of one trace in start order, with its depth in the tree."""
    return s.query(
        "WITH RECURSIVE tree AS (SELECT span_id, 0 AS depth FROM public.ipai_span"
        " WHERE trace_id = %(trace)s AND parent_span_id IS NULL"
        " UNION ALL SELECT c.span_id, t.depth + 1 FROM public.ipai_span c"
        " JOIN tree t ON c.parent_span_id = t.span_id WHERE c.trace_id = %(trace)s)"
        " SELECT s.span_id, s.parent_span_id, s.name, s.started_at, s.duration_ms, s.status,"
        " s.status_message, coalesce(t.depth, 0) AS depth, s.attributes"
        " FROM public.ipai_span s LEFT JOIN tree t USING (span_id)"
        " WHERE s.trace_id = %(trace)s ORDER BY s.started_at, t.depth",
        {"trace": trace_id},
    )


def metric_names(s: ScopedSession) -> list[str]:
    rows = s.query("SELECT DISTINCT name FROM public.ipai_metric_point ORDER BY name").rows()
    return [str(name) for (name,) in rows]


def metric_series(s: ScopedSession, name: str, since: timedelta) -> pl.DataFrame:
    """Per minute and label set: `value` is the counter's increase, or a histogram's mean."""
    return s.query(
        "SELECT bucket, labels::text AS labels, kind, count, sum,"
        " CASE WHEN kind = 'histogram' THEN sum / nullif(count, 0) ELSE sum END AS value"
        " FROM public.ipai_metric_point WHERE name = %s AND bucket > now() - %s"
        " ORDER BY bucket",
        [name, since],
    )


def windows() -> Sequence[tuple[str, timedelta]]:
    """The time ranges the page offers."""
    return (
        ("Last 24 hours", timedelta(days=1)),
        ("Last 7 days", timedelta(days=7)),
        ("Last 30 days", timedelta(days=30)),
    )
