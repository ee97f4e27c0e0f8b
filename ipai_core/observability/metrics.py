"""Metrics: every instrument the platform records, in one registry, and one function per event.

    name                              kind       unit   labels
    ipai.connector.run.duration       histogram  s      connector, status
    ipai.connector.rows               counter    rows   connector, stream, outcome (read, written,
                                                        deleted, quarantined)
    ipai.connector.bytes              counter    By     connector, stream
    ipai.connector.errors             counter    1      connector, stream ('' for the whole run)
    ipai.transform.refresh.duration   histogram  s      view, status
    ipai.transform.errors             counter    1      view
    ipai.app.page_load.duration       histogram  s      app, page, status
    ipai.app.errors                   counter    1      app, page
    ipai.agent.call.duration          histogram  ms     agent, tool, status
    ipai.agent.tokens                 counter    1      agent, tool
    ipai.agent.cost                   counter    USD    agent, tool
    ipai.agent.errors                 counter    1      agent, tool, project
    ipai.agent.sql.duration           histogram  ms     agent, status
    ipai.uptime.probe.latency         histogram  ms     target, up

Instruments belong to the process's meter provider (`tracing.start_telemetry`); before it starts
they are no-ops. Labels are low-cardinality names — never run ids, users or SQL text (those go on
spans).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import metrics

from ipai_core.observability.tracing import meter


@dataclass(frozen=True)
class Instruments:
    connector_duration: metrics.Histogram
    connector_rows: metrics.Counter
    connector_bytes: metrics.Counter
    connector_errors: metrics.Counter
    refresh_duration: metrics.Histogram
    refresh_errors: metrics.Counter
    page_load_duration: metrics.Histogram
    app_errors: metrics.Counter
    agent_duration: metrics.Histogram
    agent_tokens: metrics.Counter
    agent_cost: metrics.Counter
    agent_errors: metrics.Counter
    agent_sql_duration: metrics.Histogram
    probe_latency: metrics.Histogram


_lock = threading.Lock()
_cache: tuple[metrics.Meter, Instruments] | None = None


def instruments() -> Instruments:
    """The instruments of the current meter (created once per meter provider)."""
    global _cache
    current = meter()
    with _lock:
        if _cache is None or _cache[0] is not current:
            _cache = (current, _create(current))
        return _cache[1]


def _create(m: metrics.Meter) -> Instruments:
    return Instruments(
        connector_duration=m.create_histogram("ipai.connector.run.duration", "s"),
        connector_rows=m.create_counter("ipai.connector.rows", "rows"),
        connector_bytes=m.create_counter("ipai.connector.bytes", "By"),
        connector_errors=m.create_counter("ipai.connector.errors", "1"),
        refresh_duration=m.create_histogram("ipai.transform.refresh.duration", "s"),
        refresh_errors=m.create_counter("ipai.transform.errors", "1"),
        page_load_duration=m.create_histogram("ipai.app.page_load.duration", "s"),
        app_errors=m.create_counter("ipai.app.errors", "1"),
        agent_duration=m.create_histogram("ipai.agent.call.duration", "ms"),
        agent_tokens=m.create_counter("ipai.agent.tokens", "1"),
        agent_cost=m.create_counter("ipai.agent.cost", "USD"),
        agent_errors=m.create_counter("ipai.agent.errors", "1"),
        agent_sql_duration=m.create_histogram("ipai.agent.sql.duration", "ms"),
        probe_latency=m.create_histogram("ipai.uptime.probe.latency", "ms"),
    )


def connector_run(connector: str, *, status: str, duration_s: float) -> None:
    i = instruments()
    i.connector_duration.record(duration_s, {"connector": connector, "status": status})
    if status != "success":
        i.connector_errors.add(1, {"connector": connector, "stream": ""})


def connector_stream(
    connector: str, stream: str, *, rows: Mapping[str, int], bytes_read: int, failed: bool
) -> None:
    """`rows`: outcome → count (read, written, deleted, quarantined)."""
    i = instruments()
    for outcome, count in rows.items():
        if count:
            i.connector_rows.add(
                count, {"connector": connector, "stream": stream, "outcome": outcome}
            )
    if bytes_read:
        i.connector_bytes.add(bytes_read, {"connector": connector, "stream": stream})
    if failed:
        i.connector_errors.add(1, {"connector": connector, "stream": stream})


def view_refresh(view: str, *, status: str, duration_s: float) -> None:
    i = instruments()
    i.refresh_duration.record(duration_s, {"view": view, "status": status})
    if status != "success":
        i.refresh_errors.add(1, {"view": view})


def page_load(app: str, page: str, *, status: str, duration_s: float) -> None:
    i = instruments()
    i.page_load_duration.record(duration_s, {"app": app, "page": page, "status": status})
    if status != "success":
        i.app_errors.add(1, {"app": app, "page": page})


def agent_call(
    agent: str,
    tool: str,
    *,
    project: str,
    status: str,
    duration_ms: float,
    tokens: int,
    cost_usd: float,
) -> None:
    i = instruments()
    i.agent_duration.record(duration_ms, {"agent": agent, "tool": tool, "status": status})
    if tokens:
        i.agent_tokens.add(tokens, {"agent": agent, "tool": tool})
    if cost_usd:
        i.agent_cost.add(cost_usd, {"agent": agent, "tool": tool})
    if status != "success":
        i.agent_errors.add(1, {"agent": agent, "tool": tool, "project": project})


def agent_sql(agent: str, *, status: str, duration_ms: float) -> None:
    instruments().agent_sql_duration.record(duration_ms, {"agent": agent, "status": status})


def uptime_probe(target: str, *, up: bool, latency_ms: float) -> None:
    instruments().probe_latency.record(latency_ms, {"target": target, "up": up})
