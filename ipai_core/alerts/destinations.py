"""Webhook destinations in `ipai_alert_destination`: where events go, in which payload format,
with which credentials (vault references only), for which event types.

    ipai secrets set slack/ops-webhook          # Slack's URL is itself a credential
    ipai alerts destinations add ops-slack --format slack --url-secret slack/ops-webhook
    ipai secrets set n8n/ipai-signing
    ipai alerts destinations add n8n --format n8n --url https://n8n.example.com/webhook/ipai \
        --auth hmac --secret n8n/ipai-signing --event connector_run.failed --event alert.firing
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ipai_core.alerts.events import EventSeverity, EventType
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, NotFound
from ipai_core.vault import check_name

Format = Literal["slack", "mattermost", "n8n", "generic"]
Auth = Literal["none", "hmac", "bearer"]
DestinationName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]

_COLUMNS = (
    "id::text, name, format, url, url_secret_ref, auth, secret_ref, event_types, min_severity,"
    " enabled, created_at"
)
_SELECT = (
    "SELECT id::text, name, format, url, url_secret_ref, auth, secret_ref, event_types,"
    " min_severity, enabled, created_at FROM public.ipai_alert_destination"
)
_INSERT_VALUES = (
    "INSERT INTO public.ipai_alert_destination (name, format, url, url_secret_ref, auth,"
    " secret_ref, event_types, min_severity, enabled)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) "
)
_INSERT = _INSERT_VALUES + "DO NOTHING RETURNING " + _COLUMNS
_UPSERT = (
    _INSERT_VALUES + "DO UPDATE SET format = EXCLUDED.format, url = EXCLUDED.url,"
    " url_secret_ref = EXCLUDED.url_secret_ref, auth = EXCLUDED.auth,"
    " secret_ref = EXCLUDED.secret_ref, event_types = EXCLUDED.event_types,"
    " min_severity = EXCLUDED.min_severity, enabled = EXCLUDED.enabled RETURNING " + _COLUMNS
)


class DestinationSpec(BaseModel):
    """A destination as an operator defines it. Exactly one of `url` / `url_secret_ref`; a
    `secret_ref` exactly when `auth` is hmac or bearer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DestinationName
    format: Format
    url: HttpUrl | None = None
    url_secret_ref: str | None = None
    auth: Auth = "none"
    secret_ref: str | None = None
    event_types: tuple[EventType, ...] = Field(
        default=("alert.firing", "alert.resolved"), min_length=1
    )
    min_severity: EventSeverity = "info"
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> DestinationSpec:
        if (self.url is None) == (self.url_secret_ref is None):
            raise ValueError("give exactly one of url and url_secret_ref")
        if (self.auth == "none") != (self.secret_ref is None):
            raise ValueError("auth hmac or bearer needs secret_ref; auth none takes none")
        for ref in (self.url_secret_ref, self.secret_ref):
            if ref is not None:
                check_name(ref)
        return self


@dataclass(frozen=True)
class Destination:
    id: str
    name: str
    format: Format
    url: str | None
    url_secret_ref: str | None
    auth: Auth
    secret_ref: str | None
    event_types: tuple[str, ...]
    min_severity: EventSeverity
    enabled: bool
    created_at: datetime

    @property
    def shown_url(self) -> str:
        """The URL for people: a vault reference is shown as such, never resolved."""
        return self.url if self.url is not None else f"vault:{self.url_secret_ref}"

    @property
    def secret_refs(self) -> tuple[str, ...]:
        return tuple(r for r in (self.url_secret_ref, self.secret_ref) if r is not None)


def add_destination(
    s: ScopedSession, spec: DestinationSpec, *, replace: bool = False
) -> Destination:
    found = s.query(
        _UPSERT if replace else _INSERT,
        [
            spec.name,
            spec.format,
            spec.url,
            spec.url_secret_ref,
            spec.auth,
            spec.secret_ref,
            list(spec.event_types),
            spec.min_severity,
            spec.enabled,
        ],
    )
    if found.is_empty():
        raise ConfigError(
            f"a destination `{spec.name}` already exists; pass --replace to change it"
        )
    saved = _record(found.row(0))
    s.execute(
        "SELECT public.ipai_audit('alert', 'destination', %s::uuid, 'saved', %s)",
        [saved.id, json.dumps({"name": saved.name, "format": saved.format})],
    )
    return saved


def list_destinations(s: ScopedSession) -> list[Destination]:
    rows = s.query(_SELECT + " ORDER BY name").rows()
    return [_record(r) for r in rows]


def get_destination(s: ScopedSession, name: str) -> Destination:
    found = s.query(_SELECT + " WHERE name = %s", [name])
    if found.is_empty():
        raise NotFound(
            f"no alert destination `{name}`; `ipai alerts destinations list` shows them",
            name=name,
        )
    return _record(found.row(0))


def remove_destination(s: ScopedSession, name: str) -> None:
    """Remove it, with its delivery history (the audit log keeps the removal)."""
    removed = s.scalar(
        "DELETE FROM public.ipai_alert_destination WHERE name = %s RETURNING id::text", [name]
    )
    if removed is None:
        raise NotFound(
            f"no alert destination `{name}` to remove; `ipai alerts destinations list` shows them",
            name=name,
        )
    s.execute(
        "SELECT public.ipai_audit('alert', 'destination', %s::uuid, 'removed', %s)",
        [removed, json.dumps({"name": name})],
    )


def _record(row: tuple[Any, ...]) -> Destination:
    return Destination(
        id=str(row[0]),
        name=str(row[1]),
        format=row[2],
        url=row[3],
        url_secret_ref=row[4],
        auth=row[5],
        secret_ref=row[6],
        event_types=tuple(row[7]),
        min_severity=row[8],
        enabled=bool(row[9]),
        created_at=row[10],
    )
