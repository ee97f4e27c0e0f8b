"""`ipai up`: database, migrations, demo admin, workspace — everything a first run needs."""

from __future__ import annotations

import secrets

import typer

from ipai_core.auth import users
from ipai_core.db.location import admin_connection
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.runner import migrate
from ipai_core.settings import Settings, get_settings

DEMO_ADMIN = "admin@ipai.local"


def up(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the workspace afterwards."),
) -> None:
    """Start the database (embedded unless IPAI_DATABASE_URL is set), migrate, create the demo
    admin (password printed once) and serve the workspace."""
    settings = get_settings()
    with admin_connection(settings) as conn:
        report = migrate(conn, settings.migrations_dir)
    typer.echo(f"database ready: {len(report.applied)} migration(s) applied")
    with Lakehouse.open(settings) as lh:
        _ensure_demo_admin(lh)
    if serve:
        _serve(settings)


def workspace() -> None:
    """Serve the workspace only (the database must already be migrated)."""
    _serve(get_settings())


def _ensure_demo_admin(lh: Lakehouse) -> None:
    if any(u.email == DEMO_ADMIN for u in users.list_users(lh.db)):
        typer.echo(
            f"demo admin {DEMO_ADMIN} exists (reset its password: ipai users passwd {DEMO_ADMIN})"
        )
        return
    password = secrets.token_urlsafe(12)
    users.add_user(lh.db, DEMO_ADMIN, password, ["admin"])
    typer.secho("demo admin created — this password is shown only once:", bold=True)
    typer.echo(f"  email:    {DEMO_ADMIN}\n  password: {password}")


def _serve(settings: Settings) -> None:
    from ipai_core.workspace.server import serve  # Streamlit loads only when serving

    typer.echo(f"workspace: http://{settings.workspace_host}:{settings.workspace_port}")
    serve(settings)
