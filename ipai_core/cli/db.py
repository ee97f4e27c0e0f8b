"""`ipai db start|stop|status|url`: the embedded server, or the configured one."""

from __future__ import annotations

import dataclasses

import typer

from ipai_core.cli.output import JSON_OPTION, emit_json
from ipai_core.db.location import database_url, embedded_server, redacted_url
from ipai_core.settings import get_settings

app = typer.Typer(
    help="The database: embedded PostgreSQL by default, IPAI_DATABASE_URL otherwise.",
    no_args_is_help=True,
)


def _external_notice() -> bool:
    if get_settings().uses_embedded:
        return False
    typer.echo("IPAI_DATABASE_URL is set: the embedded server is not used.")
    return True


@app.command()
def start() -> None:
    """Start the embedded server (initialising it on first use); a no-op when it runs."""
    if _external_notice():
        return
    settings = get_settings()
    url = database_url(settings)  # starts the server and creates the owner role and database
    status = embedded_server(settings).status()
    typer.echo(
        f"embedded PostgreSQL running (pid {status.pid}) at {redacted_url(url)}"
        " (`ipai db url` prints it with the password)"
    )


@app.command()
def stop() -> None:
    """Stop the embedded server cleanly."""
    if _external_notice():
        return
    embedded_server(get_settings()).stop()
    typer.echo("embedded PostgreSQL stopped")


@app.command()
def status(as_json: bool = JSON_OPTION) -> None:
    """Show whether the embedded server is initialised and running, and where."""
    settings = get_settings()
    if not settings.uses_embedded:
        info: dict[str, object] = {"embedded": False, "url_configured": True}
    else:
        state = embedded_server(settings).status()
        info = {"embedded": True, **dataclasses.asdict(state), "data_dir": str(state.data_dir)}
    if as_json:
        emit_json(info)
    else:
        for key, value in info.items():
            typer.echo(f"{key}: {value}")


@app.command()
def url() -> None:
    """Print the database URL in use (starting the embedded server if needed)."""
    typer.echo(database_url(get_settings()))
