"""Structured logs: one JSON object per line on stderr, from every process.

Why the standard library and not structlog: every library we run (uvicorn, Streamlit, psycopg,
the OpenTelemetry SDK) already logs through `logging`, so one formatter on the root handler turns
all of it into JSON with the same fields; a second logging framework would add a dependency and
a bridge without adding a field.

Each line carries `ts`, `level`, `logger`, `message`, `service`, the fields of the current
`log_context` (`run_id`, `connector`, `app`, `agent`, `user`, …), the current span's `trace_id`
and `span_id`, any `extra={...}` the call passed, and `exception` — all of it scrubbed
(`observability.scrub`). `configure_logging(service)` installs it once per process; calling it
again only changes the service name and level.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

from ipai_core.observability.context import current_fields
from ipai_core.observability.scrub import scrub, scrub_value

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (see the module docstring for the fields)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "service": self.service,
            **current_fields(),
            **_trace_ids(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(scrub_value(line), default=str, ensure_ascii=False)


class _IpaiHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure_logging` installed, so a second call finds it."""


def configure_logging(service: str, *, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record of this process to `stream` (stderr) as JSON lines.

    Idempotent: the first call replaces the root logger's handlers with ours (so a
    `logging.basicConfig` elsewhere does not print each line twice); later calls update the
    service name and level.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _IpaiHandler)]
    if ours:
        handler = ours[0]
    else:
        handler = _IpaiHandler(stream or sys.stderr)
        for existing in list(root.handlers):
            root.removeHandler(existing)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter(service))
    root.setLevel(level.upper())


def _trace_ids() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
