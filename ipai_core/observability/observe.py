"""The hooks the rest of the platform calls: one context manager per kind of work, each opening a
span, setting the log context, recording the metrics and writing one log line when it ends.

    connector_run / connector_stream   the sync engine (`run_connector`, each stream)
    transform_run / view_refresh       the transformation runner
    page_load                          an app page or a workspace page, per script run
    agent_call (+ .sql, .usage)        an agent invocation and the SQL it runs

Span names: `connector.run`, `connector.stream`, `transform.run`, `transform.refresh`,
`app.page_load`, `agent.call`, `agent.sql`. Each hook is safe to call with telemetry off (spans
and metrics are no-ops then; the log line is still written).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.trace import Span, SpanKind

from ipai_core.observability import metrics
from ipai_core.observability.context import current_fields, log_context
from ipai_core.observability.tracing import mark_failed, set_attributes, span

_log = logging.getLogger("ipai.observe")
_MAX_SQL_LENGTH = 2000


class StreamCounts(Protocol):
    """What a stream reports (the sync engine's `StreamStats`)."""

    rows_read: int
    rows_written: int
    rows_deleted: int
    rows_quarantined: int
    bytes_read: int
    status: str


@dataclass
class ConnectorRunObservation:
    span: Span
    connector: str
    started: float = field(default_factory=time.monotonic)

    def finished(self, *, status: str, error: str | None, rows_written: int) -> None:
        """Record how the run ended (called once, inside the `connector_run` block)."""
        duration = time.monotonic() - self.started
        connector = current_fields().get("connector", self.connector)
        set_attributes(self.span, status=status, rows_written=rows_written)
        if error:
            mark_failed(self.span, error)
        metrics.connector_run(connector, status=status, duration_s=duration)
        _log.log(
            logging.INFO if status == "success" else logging.ERROR,
            "connector run %s: %s",
            status,
            error or f"{rows_written} rows written",
            extra={"event": "connector_run", "status": status, "duration_s": round(duration, 3)},
        )


@contextmanager
def connector_run(connector: str, *, triggered_by: str) -> Iterator[ConnectorRunObservation]:
    """Around one connector run. Inside it, `annotate(run_id=..., connector=name)` once known."""
    with (
        log_context(connector=connector, trigger=triggered_by),
        span("connector.run") as current,
    ):
        yield ConnectorRunObservation(current, connector)


@contextmanager
def connector_stream(stream: str, stats: StreamCounts) -> Iterator[None]:
    """Around loading one stream; reads `stats` when the block ends, however it ends."""
    with log_context(stream=stream), span("connector.stream") as current:
        failed = True
        try:
            yield
            failed = False
        finally:
            rows = {
                "read": stats.rows_read,
                "written": stats.rows_written,
                "deleted": stats.rows_deleted,
                "quarantined": stats.rows_quarantined,
            }
            set_attributes(
                current, **{f"rows_{k}": v for k, v in rows.items()}, bytes_read=stats.bytes_read
            )
            metrics.connector_stream(
                current_fields().get("connector", ""),
                stream,
                rows=rows,
                bytes_read=stats.bytes_read,
                failed=failed,
            )


@dataclass
class TransformRunObservation:
    span: Span

    def finished(self, *, ok: bool, views: int) -> None:
        set_attributes(self.span, views=views, ok=ok)
        if not ok:
            mark_failed(self.span, "one or more views failed to refresh")


@contextmanager
def transform_run(trigger: str) -> Iterator[TransformRunObservation]:
    with log_context(transform_trigger=trigger), span("transform.run") as current:
        yield TransformRunObservation(current)


@contextmanager
def view_refresh(view: str) -> Iterator[None]:
    """Around refreshing one materialized view; an exception marks it failed and re-raises."""
    started = time.monotonic()
    status = "failed"
    with log_context(view=view), span("transform.refresh"):
        try:
            yield
            status = "success"
        finally:
            duration = time.monotonic() - started
            metrics.view_refresh(view, status=status, duration_s=duration)
            _log.log(
                logging.INFO if status == "success" else logging.ERROR,
                "refresh of %s: %s",
                view,
                status,
                extra={"event": "view_refresh", "duration_s": round(duration, 3)},
            )


@contextmanager
def page_load(app: str, page: str, *, user: str | None = None) -> Iterator[Span]:
    """Around one script run of a workspace or app page: span, log context, duration and error
    metrics. An exception marks the load failed; `st.stop()` and reruns end it normally."""
    started = time.monotonic()
    status = "success"
    with (
        log_context(app=app, page=page, user=user),
        span("app.page_load", kind=SpanKind.SERVER) as current,
    ):
        try:
            yield current
        except Exception:
            status = "failed"
            raise
        finally:
            metrics.page_load(app, page, status=status, duration_s=time.monotonic() - started)


@dataclass
class AgentCallObservation:
    """Handed to the body of `agent_call`: report usage, a refusal or failure, and SQL."""

    span: Span
    agent: str
    tool: str
    project: str
    tokens: int = 0
    cost_usd: float = 0.0
    failure: str | None = None

    def usage(self, *, tokens: int | None = None, cost_usd: float | None = None) -> None:
        """Add tokens and cost as the model reports them (may be called per model request)."""
        self.tokens += tokens or 0
        self.cost_usd += cost_usd or 0.0

    def failed(self, reason: str) -> None:
        """The call ends as failed without raising (e.g. a budget cut it off)."""
        self.failure = reason

    @contextmanager
    def sql(self, statement: str) -> Iterator[Span]:
        """Around one SQL statement the agent runs: an `agent.sql` client span with the text."""
        started = time.monotonic()
        status = "failed"
        with span(
            "agent.sql", kind=SpanKind.CLIENT, statement=statement[:_MAX_SQL_LENGTH]
        ) as current:
            try:
                yield current
                status = "success"
            finally:
                duration_ms = (time.monotonic() - started) * 1000
                metrics.agent_sql(self.agent, status=status, duration_ms=duration_ms)


@contextmanager
def agent_call(
    agent: str, tool: str, *, user: str | None = None, project: str | None = None
) -> Iterator[AgentCallObservation]:
    """Around one agent invocation (an MCP tool call, a Genie question)."""
    started = time.monotonic()
    status = "failed"
    with (
        log_context(agent=agent, tool=tool, user=user, project=project),
        span("agent.call", kind=SpanKind.SERVER) as current,
    ):
        observation = AgentCallObservation(current, agent, tool, project or "default")
        try:
            yield observation
            status = "failed" if observation.failure else "success"
        finally:
            _finish_agent_call(observation, status, (time.monotonic() - started) * 1000)


def _finish_agent_call(call: AgentCallObservation, status: str, duration_ms: float) -> None:
    set_attributes(call.span, status=status, tokens=call.tokens, cost_usd=call.cost_usd)
    if call.failure:
        mark_failed(call.span, call.failure)
    metrics.agent_call(
        call.agent,
        call.tool,
        project=call.project,
        status=status,
        duration_ms=duration_ms,
        tokens=call.tokens,
        cost_usd=call.cost_usd,
    )
    _log.log(
        logging.INFO if status == "success" else logging.ERROR,
        "agent call %s: %s",
        call.tool,
        call.failure or status,
        extra={
            "event": "agent_call",
            "status": status,
            "duration_ms": round(duration_ms, 1),
            "tokens_used": call.tokens,
            "cost_usd": round(call.cost_usd, 6),
        },
    )
