"""Observability: structured logs, traces and metrics, SLOs, alert rules and uptime.

logging     JSON log lines with the log context and trace ids, scrubbed (`configure_logging`)
context     `log_context(**fields)` / `bind(**fields)`: run, connector, app, agent, user
scrub       what never reaches a log line, span or error report (secrets, tokens, passwords)
tracing     the process's OpenTelemetry providers and `span()`; OTLP when configured
metrics     every instrument, one function per event
pgexport    spans and per-minute metric points rolled up into Postgres
observe     the hooks the engine, runner, apps and agents call (`connector_run`, `page_load`,
            `agent_call`, …)
setup       `start(service)`: all of the above (and Sentry) for one process
slo         SLO status as the views compute it (`ipai slo status`, the workspace page)
dashboard   what the workspace's Observability page charts
uptime      the scheduler's probe of the workspace's /healthz
alert_rules rules evaluated by the scheduler, firing and resolving through `ipai_core.alerts`
retention   deleting spans, metric points and probes past their retention
jobs        the scheduler job kinds (uptime probe, alert rules, retention) and `SideScheduler`
readiness   `/readyz`: the database answers and a scheduler is beating

from ipai_core.observability import log_context, observe, span
with observe.page_load("finance", "overview", user=principal.email):
    ...
"""

from ipai_core.observability import observe
from ipai_core.observability.context import bind, current_fields, log_context
from ipai_core.observability.setup import start, stop
from ipai_core.observability.tracing import annotate, span

__all__ = [
    "annotate",
    "bind",
    "current_fields",
    "log_context",
    "observe",
    "span",
    "start",
    "stop",
]
