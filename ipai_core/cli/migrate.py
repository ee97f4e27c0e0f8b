"""`ipai migrate [--dry-run]` and `ipai migrate check`."""

from __future__ import annotations

import typer
from psycopg.conninfo import conninfo_to_dict

from ipai_core.db.location import database_url, superuser_url
from ipai_core.migrate.check import check_migrations
from ipai_core.migrate.workspace import migrate_workspace
from ipai_core.settings import get_settings

SHIM_CONTENTS = "roles anon/authenticated/service_role, auth.*"

app = typer.Typer(
    help="Apply SQL migrations from migrations/ in order.", invoke_without_command=True
)


@app.callback()
def migrate(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="List pending migrations and whether the shim would run; write nothing.",
    ),
) -> None:
    """Apply pending migrations (the Supabase shim first, on plain PostgreSQL)."""
    if ctx.invoked_subcommand is not None:
        return
    report = migrate_workspace(get_settings(), dry_run=dry_run)
    if report.shim_applied:
        typer.echo(f"applied the Supabase shim ({SHIM_CONTENTS})")
    if dry_run:
        typer.echo(
            f"the Supabase shim would be applied first ({SHIM_CONTENTS})"
            if report.shim_pending
            else "the Supabase shim is up to date (or Supabase manages auth.*)"
        )
        typer.echo(f"{len(report.pending)} pending migration(s):")
        for m in report.pending:
            typer.echo(f"  {m.filename}")
        return
    for m in report.applied:
        typer.echo(f"applied {m.filename}")
    for warning in report.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"{len(report.applied)} migration(s) applied; database is up to date")


@app.command()
def check() -> None:
    """Apply all migrations to a scratch database twice and check RLS coverage (CI gate)."""
    settings = get_settings()
    url = database_url(settings)
    report = check_migrations(url, settings.migrations_dir, superuser_url=superuser_url(settings))
    host = conninfo_to_dict(url).get("host", "")
    typer.echo(
        f"scratch database {report.scratch_database} on {host}: "
        f"{len(report.first.applied)} migration(s) applied, second run applied "
        f"{len(report.second.applied)}"
    )
    typer.echo(
        f"RLS coverage gold/platinum: {report.gold_platinum.percent:.1f}% "
        f"({report.gold_platinum.covered}/{report.gold_platinum.total}); every ipai table: "
        f"{report.every_schema.percent:.1f}% "
        f"({report.every_schema.covered}/{report.every_schema.total})"
    )
    typer.echo("migrate check passed")
