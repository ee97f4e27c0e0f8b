"""`ipai apps register [SLUG…] [--all] | list | run SLUG`: IPAI Apps in `apps/` and the registry."""

from __future__ import annotations

import typer

from ipai_core.apps import registry
from ipai_core.apps.manifest import AppManifest, discover, find_app
from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError
from ipai_core.lakehouse import Lakehouse
from ipai_core.settings import Settings, get_settings

app = typer.Typer(
    help="IPAI Apps: register, list and run the apps under apps/.", no_args_is_help=True
)

SLUGS = typer.Argument(None, help="Apps to register (folder names under the apps folder).")
ALL_OPTION = typer.Option(False, "--all", help="Register every app in the apps folder.")


@app.command()
def register(slugs: list[str] | None = SLUGS, all_apps: bool = ALL_OPTION) -> None:
    """Register (or update) apps from their app.toml; an admin's on/off switch is kept."""
    settings = get_settings()
    if all_apps == bool(slugs):
        raise ConfigError("name the apps to register, or pass --all (not both)")
    manifests = (
        discover(settings.apps_dir)
        if all_apps
        else [find_app(settings.apps_dir, slug) for slug in slugs or []]
    )
    with Lakehouse.open(settings) as lh:
        outcome = register_apps(lh, manifests)
    for slug, what in outcome.items():
        typer.echo(f"{slug}: {what}")
    if not outcome:
        typer.echo(f"no apps in {settings.apps_dir}")


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """The registered apps, and whether each one's folder is in this checkout."""
    settings = get_settings()
    with Lakehouse.open(settings) as lh, lh.session(Principal.service("apps list")) as s:
        apps = registry.list_apps(s)
    on_disk = {m.slug for m in discover(settings.apps_dir)}
    if as_json:
        emit_json(
            [
                {
                    "slug": a.slug,
                    "name": a.name,
                    "required_roles": list(a.required_roles),
                    "active": a.is_active,
                    "in_checkout": a.slug in on_disk,
                }
                for a in apps
            ]
        )
        return
    emit_table(
        ["slug", "name", "roles", "active", "folder"],
        [
            (
                a.slug,
                a.name,
                ",".join(a.required_roles) or "(any)",
                "yes" if a.is_active else "no",
                "yes" if a.slug in on_disk else "missing",
            )
            for a in apps
        ],
    )


@app.command()
def run(slug: str) -> None:
    """Serve one app standalone (registered first), with the workspace's sign-in routes."""
    settings = get_settings()
    manifest = find_app(settings.apps_dir, slug)
    with Lakehouse.open(settings) as lh:
        register_apps(lh, [manifest])
    _serve(settings, manifest)


def register_apps(lh: Lakehouse, manifests: list[AppManifest]) -> dict[str, registry.Registration]:
    """Upsert `manifests` into the registry as the service role (audited)."""
    with lh.session(Principal.service("apps register")) as s:
        return registry.register(s, manifests)


def _serve(settings: Settings, manifest: AppManifest) -> None:
    from ipai_core.workspace.server import serve  # Streamlit loads only when serving

    typer.echo(f"{manifest.name}: http://{settings.workspace_host}:{settings.workspace_port}")
    serve(settings, manifest.entry_path)
