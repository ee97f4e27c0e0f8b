"""`start(service)`: logs, traces, metrics and error reporting for one process, in one call.

Called once at each entry point — the `ipai` CLI (`cli`), the workspace server (`workspace`),
the scheduler (`scheduler`), the MCP server (`mcp`); a later call in the same process (the CLI
starting the workspace) renames the service and rebuilds the exporters. Sentry is initialised
only when `SENTRY_DSN` is set: events are scrubbed before they leave, carry no local variables
and no personal data, and error log lines become Sentry events through its logging integration.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr

from ipai_core.auth.tokens import resolve_jwt_secret
from ipai_core.db.location import database_url
from ipai_core.db.logins import Logins, open_logins
from ipai_core.observability.logging import configure_logging
from ipai_core.observability.scrub import scrub_value
from ipai_core.observability.tracing import (
    Telemetry,
    TelemetryOptions,
    start_telemetry,
    stop_telemetry,
)
from ipai_core.settings import Settings, get_settings
from ipai_core.vault import SecretValue

SERVICE_PREFIX = "ipai-"


def start(service: str, settings: Settings | None = None) -> Telemetry:
    """Configure this process's logging, telemetry and (with `SENTRY_DSN`) Sentry."""
    settings = settings or get_settings()
    _hold_secret_settings(settings)
    configure_logging(service, level=settings.log_level or _default_level(service))
    telemetry = start_telemetry(
        TelemetryOptions(
            service=f"{SERVICE_PREFIX}{service}",
            database=_lazy_logins(settings) if settings.telemetry_to_postgres else None,
            metric_interval_s=settings.metric_export_interval_s,
        )
    )
    _start_sentry(service)
    return telemetry


def _default_level(service: str) -> str:
    """A command's terminal shows warnings and errors; a server logs what it does."""
    return "WARNING" if service == "cli" else "INFO"


def stop() -> None:
    """Flush and stop telemetry (tests; the process's exit does it by itself otherwise)."""
    stop_telemetry()


def _hold_secret_settings(settings: Settings) -> None:
    """The secrets among the settings (database URL, JWT secret, vault key, API keys) become
    `SecretValue`s, so scrubbing removes their values from everything this process logs."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            SecretValue(value.get_secret_value())


def _lazy_logins(settings: Settings) -> Any:
    """The login roles' URLs, looked up on the first export and then kept: `ipai db start` or
    `ipai migrate` may run before the database (or its login roles) exists."""
    found: list[Logins] = []

    def logins() -> Logins:
        if not found:
            owner_url = database_url(settings, start=False)
            found.append(open_logins(owner_url, resolve_jwt_secret(settings)))
        return found[0]

    return logins


def _start_sentry(service: str) -> None:
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk  # only when configured: it patches logging and threading when it starts

    sentry_sdk.init(
        dsn=dsn,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        server_name=service,
        send_default_pii=False,
        include_local_variables=False,
        traces_sample_rate=0.0,
        before_send=_scrubbed,
        before_breadcrumb=_scrubbed,
    )


def _scrubbed(event: Any, _hint: Any) -> Any:
    """Sentry events and breadcrumbs go through the same scrubber as log lines."""
    return scrub_value(event)
