"""`ipai up`: database, migrations, demo admin, workspace — everything a first run needs."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from ipai_core.apps.manifest import discover
from ipai_core.auth import users
from ipai_core.cli.apps import register_apps
from ipai_core.demo.load import demo_loaded, load_demo
from ipai_core.errors import ConfigError, IpaiError
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.workspace import migrate_workspace
from ipai_core.settings import Settings, get_settings

DEMO_ADMIN = "admin@ipai.local"


SERVE_OPTION = typer.Option(True, "--serve/--no-serve", help="Start the workspace afterwards.")
DEMO_OPTION = typer.Option(True, "--demo/--no-demo", help="Load the demo data on the first run.")
SCHEDULER_OPTION = typer.Option(
    True,
    "--scheduler/--no-scheduler",
    help="Run a scheduler beside the workspace (connector schedules, data quality checks, alerts, "
    "uptime probes); without one `/readyz` reports not ready.",
)


def up(
    serve: bool = SERVE_OPTION, demo: bool = DEMO_OPTION, scheduler: bool = SCHEDULER_OPTION
) -> None:
    """Start the database (embedded unless IPAI_DATABASE_URL is set), migrate, create the demo
    admin (password printed once), load the demo data through the real connectors (first run
    only), register the apps, and serve the workspace with a scheduler beside it."""
    settings = get_settings()
    report = migrate_workspace(settings)
    for warning in report.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"database ready: {len(report.applied)} migration(s) applied")
    with Lakehouse.open(settings) as lh:
        _ensure_demo_admin(lh)
        if demo:
            _ensure_demo_data(lh)
        _register_apps(lh, settings)
    if serve:
        with _scheduler_process(enabled=scheduler):
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


def _ensure_demo_data(lh: Lakehouse) -> None:
    if demo_loaded(lh):
        typer.echo("demo data already loaded (re-run a source with `ipai connectors run NAME`)")
        return
    typer.echo("loading demo data through the connectors …")
    result = load_demo(lh)
    for run in result.runs:
        written = sum(s.rows_written for s in run.streams.values())
        typer.echo(
            f"  {run.connector}: {run.status}, {written:,} rows"
            + (f" — {run.error}" if run.error else "")
        )
    refreshed = sum(o.status == "success" for o in result.transform.outcomes)
    typer.echo(f"  {refreshed} materialized view(s) refreshed")
    if not result.ok:
        raise IpaiError("the demo data did not load completely; see the lines above")


def _register_apps(lh: Lakehouse, settings: Settings) -> None:
    """Register the apps of the apps folder; a broken manifest is reported, not fatal."""
    try:
        outcome = register_apps(lh, discover(settings.apps_dir))
    except ConfigError as exc:
        typer.secho(f"apps not registered: {exc}", fg=typer.colors.YELLOW, err=True)
        typer.echo("fix it, then run `ipai apps register --all`", err=True)
        return
    changed = [f"{slug} ({what})" for slug, what in outcome.items() if what != "unchanged"]
    typer.echo(
        f"apps: {len(outcome)} in {settings.apps_dir}"
        + (f"; {', '.join(changed)}" if changed else "")
    )


@contextmanager
def _scheduler_process(*, enabled: bool) -> Iterator[None]:
    """`ipai scheduler` in a child process for as long as the workspace runs (same settings,
    inherited from the environment); stopped with SIGTERM, which finishes its running jobs."""
    if not enabled:
        yield
        return
    # uvicorn re-raises the SIGTERM it handled once it has shut down; as an exception (not the
    # default handler, which ends the process on the spot) it lets `finally` stop the child.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The workspace's terminal shows the scheduler's warnings and errors, not each job it runs.
    env = {"IPAI_LOG_LEVEL": "WARNING", **os.environ}
    child = subprocess.Popen([sys.executable, "-m", "ipai_core.cli", "scheduler"], env=env)
    typer.echo(f"scheduler: process {child.pid} (stop it with the workspace)")
    try:
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _serve(settings: Settings) -> None:
    from ipai_core.workspace.server import serve  # Streamlit loads only when serving

    typer.echo(f"workspace: http://{settings.workspace_host}:{settings.workspace_port}")
    serve(settings)
