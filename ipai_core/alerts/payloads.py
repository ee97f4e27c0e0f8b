"""The body each destination format receives for an event (pure functions of the event).

slack       {"text": <fallback line>, "blocks": [section, context]}  (incoming webhooks)
mattermost  {"text": <markdown>, "username": "IPAI Databricks"}      (incoming webhooks)
n8n         the full event (see `events`): a Webhook node gets every field as JSON
generic     the same full event, for any other JSON endpoint
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

USERNAME = "IPAI Databricks"

_ICONS = {
    "alert.firing": ":red_circle:",
    "alert.resolved": ":large_green_circle:",
    "connector_run.finished": ":white_check_mark:",
    "connector_run.failed": ":x:",
    "transform_run.finished": ":white_check_mark:",
    "transform_run.failed": ":x:",
}


def render(format_: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body for a destination of `format_`."""
    if format_ == "slack":
        return slack(event)
    if format_ == "mattermost":
        return mattermost(event)
    return dict(event)


def title(event: Mapping[str, Any]) -> str:
    """`FIRING · error · dq:erp.moves_state`, `connector run failed · demo-odoo`, …"""
    kind = str(event["type"])
    alert = event.get("alert")
    if alert is not None:
        state = "FIRING" if kind == "alert.firing" else "RESOLVED"
        return f"{state} · {alert['severity']} · {alert['key']}"
    subject, outcome = kind.split(".", 1)
    name = event.get("data", {}).get("connector") or event.get("data", {}).get("trigger", "")
    return f"{subject.replace('_', ' ')} {outcome} · {name}".rstrip(" ·")


def slack(event: Mapping[str, Any]) -> dict[str, Any]:
    icon = _ICONS.get(str(event["type"]), "")
    heading = f"{icon} {_escape(title(event))}".strip()
    return {
        "text": f"{heading}: {_escape(str(event['summary']))}",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{heading}*\n{_escape(str(event['summary']))}",
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _escape(_footer(event))}],
            },
        ],
    }


def mattermost(event: Mapping[str, Any]) -> dict[str, Any]:
    icon = _ICONS.get(str(event["type"]), "")
    return {
        "text": f"#### {icon} {title(event)}\n{event['summary']}\n_{_footer(event)}_",
        "username": USERNAME,
    }


def _footer(event: Mapping[str, Any]) -> str:
    return f"{event['source']} · {event['type']} · {event['occurred_at']} · event {event['id']}"


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
