"""Alert state in `ipai_alert`: a condition fires once, is seen again while firing (no new
message), and resolves once (a resolve message). Whoever watches a condition — a data quality
check today, an alert rule of issue 7 — calls `fire` while it is bad and `resolve` when it is
good again, every time it looks; deduplication is this module's job, not the caller's.

Both run in the caller's transaction; the unique index on firing keys makes two concurrent
`fire` calls for one key produce one alert and one message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ipai_core.alerts.events import OutgoingEvent, publish
from ipai_core.db.scoped import ScopedSession

AlertSeverity = Literal["warn", "error"]
Change = Literal["fired", "seen", "resolved"]


@dataclass(frozen=True)
class AlertChange:
    """What a `fire` or `resolve` call did to the alert of `key`."""

    alert_id: str
    key: str
    change: Change
    deliveries: int  # messages queued (0 while it stays firing)


# `xmax = 0` holds for a row this statement inserted, not for one it updated on conflict.
_FIRE = """
INSERT INTO public.ipai_alert AS a (key, source, severity, summary, details)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (key) WHERE state = 'firing' DO UPDATE
   SET last_seen_at = now(), occurrences = a.occurrences + 1, summary = EXCLUDED.summary,
       details = EXCLUDED.details, severity = EXCLUDED.severity
RETURNING (xmax = 0) AS inserted, id::text, key, source, severity, state, summary, details,
          occurrences, first_fired_at, last_seen_at, resolved_at
"""
_RESOLVE = """
UPDATE public.ipai_alert
   SET state = 'resolved', resolved_at = now(), last_seen_at = now(), summary = %s, details = %s
 WHERE key = %s AND state = 'firing'
RETURNING id::text, key, source, severity, state, summary, details, occurrences, first_fired_at,
          last_seen_at, resolved_at
"""


def fire(
    s: ScopedSession,
    *,
    key: str,
    source: str,
    severity: AlertSeverity,
    summary: str,
    details: Mapping[str, Any],
) -> AlertChange:
    """Raise the alert of `key`, or — when it is already firing — record that it was seen
    again (summary and details updated, no message)."""
    row = s.query(
        _FIRE,
        [key, source, severity, summary, json.dumps(details, default=str)],
    ).row(0, named=True)
    if not row["inserted"]:
        return AlertChange(row["id"], key, "seen", 0)
    event = OutgoingEvent("alert.firing", severity, summary, alert=_document(row))
    queued = publish(s, event, alert_id=row["id"], keep_unsubscribed=True)
    return AlertChange(row["id"], key, "fired", queued)


def resolve(
    s: ScopedSession, *, key: str, summary: str, details: Mapping[str, Any]
) -> AlertChange | None:
    """Resolve the firing alert of `key` and announce it; None when nothing was firing."""
    found = s.query(
        _RESOLVE,
        [summary, json.dumps(details, default=str), key],
    )
    if found.is_empty():
        return None
    row = found.row(0, named=True)
    event = OutgoingEvent("alert.resolved", row["severity"], summary, alert=_document(row))
    queued = publish(s, event, alert_id=row["id"], keep_unsubscribed=True)
    return AlertChange(row["id"], key, "resolved", queued)


def _document(row: Mapping[str, Any]) -> dict[str, Any]:
    """The alert as events carry it."""
    return {
        "id": row["id"],
        "key": row["key"],
        "source": row["source"],
        "severity": row["severity"],
        "state": row["state"],
        "summary": row["summary"],
        "details": json.loads(row["details"]),
        "occurrences": row["occurrences"],
        "first_fired_at": _iso(row["first_fired_at"]),
        "last_seen_at": _iso(row["last_seen_at"]),
        "resolved_at": _iso(row["resolved_at"]),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
