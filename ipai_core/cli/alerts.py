"""`ipai alerts list|test|deliver` and `ipai alerts destinations add|list|remove`."""

from __future__ import annotations

import dataclasses
import json

import typer
from pydantic import ValidationError

from ipai_core.alerts.delivery import deliver_due, send_test
from ipai_core.alerts.destinations import (
    DestinationSpec,
    add_destination,
    list_destinations,
    remove_destination,
)
from ipai_core.alerts.events import EVENT_TYPES
from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError, DeliveryFailed
from ipai_core.lakehouse import Lakehouse

app = typer.Typer(
    help="Alerts and outgoing webhooks (Slack, Mattermost, n8n).", no_args_is_help=True
)
destinations = typer.Typer(help="Where alerts and run events are sent.", no_args_is_help=True)
app.add_typer(destinations, name="destinations")

EVENT_OPTION = typer.Option(
    None,
    "--event",
    "-e",
    help=f"Event type to send; repeatable. Default: alert.firing, alert.resolved. "
    f"Known: {', '.join(EVENT_TYPES)}.",
)

_ALERTS = """
SELECT key, state, severity, summary, occurrences, first_fired_at, last_seen_at, resolved_at
  FROM public.ipai_alert
 WHERE %(all)s OR state = 'firing'
 ORDER BY state = 'firing' DESC, last_seen_at DESC LIMIT 200
"""


def _cli(reason: str) -> Principal:
    return Principal.service(f"cli: alerts {reason}")


@destinations.command("add")
def add(
    name: str,
    format_: str = typer.Option(..., "--format", "-f", help="slack, mattermost, n8n or generic."),
    url: str | None = typer.Option(None, "--url", help="Endpoint URL (when it holds no secret)."),
    url_secret: str | None = typer.Option(
        None, "--url-secret", help="Vault secret holding the URL (Slack/Mattermost webhooks)."
    ),
    auth: str = typer.Option("none", help="none, hmac (signature headers) or bearer."),
    secret: str | None = typer.Option(
        None, "--secret", help="Vault secret of the HMAC key or bearer token."
    ),
    event: list[str] | None = EVENT_OPTION,
    min_severity: str = typer.Option("info", help="Skip events below: info, warn or error."),
    disabled: bool = typer.Option(False, "--disabled", help="Save it without sending to it."),
    replace: bool = typer.Option(False, "--replace", help="Update an existing destination."),
) -> None:
    """Add a webhook destination (secrets are vault references, set with `ipai secrets set`)."""
    fields: dict[str, object] = {
        "name": name,
        "format": format_,
        "url": url,
        "url_secret_ref": url_secret,
        "auth": auth,
        "secret_ref": secret,
        "min_severity": min_severity,
        "enabled": not disabled,
    }
    if event:
        fields["event_types"] = tuple(event)
    try:
        spec = DestinationSpec.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'destination'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"destination `{name}` is invalid: {problems}") from None
    with Lakehouse.open() as lh, lh.session(_cli("add destination")) as s:
        saved = add_destination(s, spec, replace=replace)
    typer.echo(f"destination {saved.name} ({saved.format}) saved: {', '.join(saved.event_types)}")


@destinations.command("list")
def list_destinations_(as_json: bool = JSON_OPTION) -> None:
    """List destinations (URLs kept in the vault are shown as their reference)."""
    with Lakehouse.open() as lh, lh.session(_cli("list destinations")) as s:
        found = list_destinations(s)
    if as_json:
        emit_json([{**dataclasses.asdict(d), "url": d.shown_url} for d in found])
        return
    emit_table(
        ["name", "format", "url", "auth", "events", "min severity", "enabled"],
        [
            (
                d.name,
                d.format,
                d.shown_url,
                d.auth,
                ", ".join(d.event_types),
                d.min_severity,
                "yes" if d.enabled else "no",
            )
            for d in found
        ],
    )


@destinations.command("remove")
def remove(name: str) -> None:
    """Remove a destination and its delivery history."""
    with Lakehouse.open() as lh, lh.session(_cli("remove destination")) as s:
        remove_destination(s, name)
    typer.echo(f"destination {name} removed")


@app.command("list")
def list_alerts(
    show_all: bool = typer.Option(False, "--all", help="Resolved alerts too (latest 200)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Firing alerts (with --all, resolved ones too)."""
    with Lakehouse.open() as lh, lh.session(_cli("list")) as s:
        frame = s.query(_ALERTS, {"all": show_all})
    if as_json:
        emit_json(frame.to_dicts())
        return
    emit_table(
        ["key", "state", "severity", "since", "seen", "summary"],
        [(r[0], r[1], r[2], r[5], r[4], r[3]) for r in frame.rows()],
    )


@app.command()
def test(name: str) -> None:
    """Send a test message to a destination now; exits 1 when it is not accepted."""
    with Lakehouse.open() as lh:
        attempt = send_test(lh, name)
    if not attempt.delivered:
        raise DeliveryFailed(
            f"destination `{name}` did not accept the test message ({attempt.error}); check its "
            "URL and credentials (`ipai alerts destinations list`, `ipai secrets list`)",
            destination=name,
            http_status=attempt.http_status,
        )
    typer.echo(f"destination {name} accepted the test message (HTTP {attempt.http_status})")


@app.command()
def deliver(as_json: bool = JSON_OPTION) -> None:
    """Send the due deliveries now (the scheduler does this every minute)."""
    with Lakehouse.open() as lh:
        report = deliver_due(lh)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(report)))
    else:
        typer.echo(str(report))
