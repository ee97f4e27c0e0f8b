"""The `ipai` command line. Each command group lives in its own module; this one wires them up
and turns every `IpaiError` into a one-line message and a non-zero exit."""

from __future__ import annotations

import sys

import typer

from ipai_core.cli import (
    agents,
    alerts,
    apps,
    bi,
    checks,
    connectors,
    db,
    explore,
    features,
    genie,
    migrate,
    quality,
    scheduler,
    secrets,
    slo,
    transform,
    up,
    users,
)
from ipai_core.errors import IpaiError
from ipai_core.observability import start as start_observability

app = typer.Typer(
    name="ipai",
    help="IPAI Databricks: a self-hosted data & AI lakehouse on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(migrate.app, name="migrate")
app.add_typer(users.app, name="users")
app.add_typer(secrets.app, name="secrets")
app.add_typer(connectors.app, name="connectors")
app.add_typer(transform.app, name="transform")
app.add_typer(checks.rls_app, name="rls")
app.add_typer(checks.spec_app, name="spec")
app.add_typer(features.app, name="features")
app.add_typer(apps.app, name="apps")
app.add_typer(agents.app, name="agents")
app.add_typer(agents.mcp_app, name="mcp")
app.add_typer(quality.app, name="quality")
app.add_typer(alerts.app, name="alerts")
app.add_typer(slo.app, name="slo")
app.add_typer(genie.app, name="genie")
app.add_typer(bi.app, name="bi")
app.command("up")(up.up)
app.command("workspace")(up.workspace)
app.command("explore")(explore.explore)
app.command("scheduler")(scheduler.scheduler)


def main() -> None:
    try:
        start_observability("cli")  # JSON logs on stderr, spans and metrics (see observability)
        app()
    except IpaiError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        for failure in getattr(exc, "failures", []):
            typer.echo(f"  - {failure}", err=True)
        sys.exit(1)
