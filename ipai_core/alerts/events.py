"""Outgoing events and the outbox: `publish` stores an event and one pending delivery per
destination subscribed to it, inside the caller's transaction — so an alert's state change and
its notifications commit together, and nobody on a connector's path waits for a webhook.

The stored payload is the event exactly as n8n and generic destinations receive it:

    {"id": "…", "type": "alert.firing", "severity": "error", "occurred_at": "…",
     "summary": "…", "source": "ipai-databricks", "alert": {…} | null, "data": {…}}
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ipai_core.db.scoped import ScopedSession

EventType = Literal[
    "alert.firing",
    "alert.resolved",
    "connector_run.finished",
    "connector_run.failed",
    "transform_run.finished",
    "transform_run.failed",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "alert.firing",
    "alert.resolved",
    "connector_run.finished",
    "connector_run.failed",
    "transform_run.finished",
    "transform_run.failed",
)
EventSeverity = Literal["info", "warn", "error"]
SEVERITIES: tuple[EventSeverity, ...] = ("info", "warn", "error")
SOURCE = "ipai-databricks"


@dataclass(frozen=True)
class OutgoingEvent:
    type: EventType
    severity: EventSeverity
    summary: str
    data: Mapping[str, Any] = field(default_factory=dict)
    alert: Mapping[str, Any] | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def payload(self) -> dict[str, Any]:
        """The full event, JSON-ready."""
        document = {
            "id": self.id,
            "type": self.type,
            "severity": self.severity,
            "occurred_at": self.occurred_at.isoformat(),
            "summary": self.summary,
            "source": SOURCE,
            "alert": None if self.alert is None else dict(self.alert),
            "data": dict(self.data),
        }
        plain: dict[str, Any] = json.loads(json.dumps(document, default=str))  # dates → text
        return plain


_PUBLISH = """
WITH subscribed AS (
  SELECT d.id FROM public.ipai_alert_destination d
   WHERE d.enabled AND %(type)s = ANY (d.event_types)
     AND array_position(%(levels)s::text[], %(severity)s)
         >= array_position(%(levels)s::text[], d.min_severity)),
event AS (
  INSERT INTO public.ipai_alert_event (id, event_type, severity, alert_id, payload)
  SELECT %(id)s::uuid, %(type)s, %(severity)s, %(alert_id)s::uuid, %(payload)s::jsonb
   WHERE %(keep)s OR EXISTS (SELECT 1 FROM subscribed)
  RETURNING id)
INSERT INTO public.ipai_alert_delivery (event_id, destination_id)
SELECT event.id, subscribed.id FROM event, subscribed
"""


def publish(
    s: ScopedSession,
    event: OutgoingEvent,
    *,
    alert_id: str | None = None,
    keep_unsubscribed: bool = False,
) -> int:
    """Store `event` and queue it for each subscribed destination; returns how many deliveries
    were queued. Run events nobody subscribes to are not stored (`ipai_connector_run` already
    holds them); alert events always are (`keep_unsubscribed`), as the alert's history."""
    return s.execute(
        _PUBLISH,
        {
            "id": event.id,
            "type": event.type,
            "severity": event.severity,
            "alert_id": alert_id,
            "payload": json.dumps(event.payload()),
            "keep": keep_unsubscribed,
            "levels": list(SEVERITIES),
        },
    )
