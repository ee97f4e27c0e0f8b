"""`ipai connectors add|list|show|run|history|disable|enable|quarantine`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import typer

from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.connectors import store
from ipai_core.connectors.registry import known_types
from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError, SyncError
from ipai_core.lakehouse import Lakehouse
from ipai_core.sync.engine import run_connector

app = typer.Typer(help="Sources that sync into bronze (files, databases, …).", no_args_is_help=True)

TYPE_OPTION = typer.Option(
    ..., "--type", "-t", help="Connector type (see `ipai connectors types`)."
)
CONFIG_OPTION = typer.Option(..., "--config", "-c", help="JSON, or @path/to/config.json")
SCHEDULE_OPTION = typer.Option(None, "--schedule", help="Cron expression, UTC (e.g. '0 * * * *').")
SECRET_OPTION = typer.Option([], "--secret", help="Vault secret reference; repeatable.")
REPLACE_OPTION = typer.Option(False, "--replace", help="Update an existing connector.")


def _cli(reason: str) -> Principal:
    return Principal.service(f"cli: connectors {reason}")


@app.command()
def types() -> None:
    """List the connector types this installation knows."""
    for name in known_types():
        typer.echo(name)


@app.command()
def add(
    name: str,
    connector_type: str = TYPE_OPTION,
    config: str = CONFIG_OPTION,
    schedule: str | None = SCHEDULE_OPTION,
    secret: list[str] = SECRET_OPTION,
    replace: bool = REPLACE_OPTION,
) -> None:
    """Add a connector; its config is validated by the connector's own model."""
    with Lakehouse.open() as lh, lh.session(_cli("add")) as s:
        record = store.add_connector(
            s,
            name=name,
            connector_type=connector_type,
            config=_load_config(config),
            schedule=schedule,
            secret_refs=secret,
            replace=replace,
        )
    typer.echo(
        f"connector {record.name} ({record.connector_type}) saved"
        + (f", schedule {record.schedule}" if record.schedule else ", manual runs only")
    )


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List connectors."""
    with Lakehouse.open() as lh, lh.session(_cli("list")) as s:
        records = store.list_connectors(s)
    if as_json:
        emit_json([dataclasses.asdict(r) for r in records])
        return
    emit_table(
        ["name", "type", "schedule", "enabled", "target"],
        [
            (
                r.name,
                r.connector_type,
                r.schedule or "manual",
                "yes" if r.is_enabled else "no",
                r.config.get("target_schema", ""),
            )
            for r in records
        ],
    )


@app.command()
def show(name: str, as_json: bool = JSON_OPTION) -> None:
    """Show one connector's configuration (secrets appear as references only)."""
    with Lakehouse.open() as lh, lh.session(_cli("show")) as s:
        record = store.find_connector(s, name)
    if as_json:
        emit_json(dataclasses.asdict(record))
        return
    for key, value in dataclasses.asdict(record).items():
        typer.echo(f"{key}: {json.dumps(value, default=str) if isinstance(value, dict) else value}")


@app.command()
def run(name: str, as_json: bool = JSON_OPTION) -> None:
    """Run a connector now and wait for it; exits 1 when the run fails."""
    with Lakehouse.open() as lh:
        result = run_connector(
            lh, name, triggered_by="cli", on_progress=None if as_json else _print_progress
        )
    if as_json:
        emit_json(
            {
                "run_id": result.run_id,
                "status": result.status,
                "error": result.error,
                "duration_s": result.duration_s,
                "streams": {k: v.as_json() for k, v in result.streams.items()},
            }
        )
    else:
        for stream, stats in result.streams.items():
            typer.echo(
                f"  {stream}: {stats.status} — read {stats.rows_read}, written "
                f"{stats.rows_written}, deleted {stats.rows_deleted}, quarantined "
                f"{stats.rows_quarantined}"
            )
        typer.echo(f"run {result.run_id} {result.status} in {result.duration_s:.1f}s")
    if not result.ok:
        raise SyncError(f"run of `{name}` failed: {result.error}", connector=name)


@app.command()
def history(name: str, limit: int = 20, as_json: bool = JSON_OPTION) -> None:
    """Recent runs of a connector."""
    with Lakehouse.open() as lh, lh.session(_cli("history")) as s:
        runs = store.run_history(s, name, limit)
    if as_json:
        emit_json([dataclasses.asdict(r) for r in runs])
        return
    emit_table(
        ["started", "status", "read", "written", "by", "error", "run id"],
        [
            (
                r.started_at,
                r.status,
                r.rows_read,
                r.rows_written,
                r.triggered_by,
                (r.error_message or "")[:80],
                r.id,
            )
            for r in runs
        ],
    )


@app.command()
def disable(name: str) -> None:
    """Stop scheduled runs of a connector (manual runs are refused too)."""
    with Lakehouse.open() as lh, lh.session(_cli("disable")) as s:
        store.set_enabled(s, name, False)
    typer.echo(f"connector {name} disabled")


@app.command()
def enable(name: str) -> None:
    """Resume a disabled connector."""
    with Lakehouse.open() as lh, lh.session(_cli("enable")) as s:
        store.set_enabled(s, name, True)
    typer.echo(f"connector {name} enabled")


@app.command()
def quarantine(name: str, limit: int = 50, as_json: bool = JSON_OPTION) -> None:
    """Rows a connector could not load, with their raw value and the reason."""
    with Lakehouse.open() as lh, lh.session(_cli("quarantine")) as s:
        rows = store.quarantined(s, name, limit)
    if as_json:
        emit_json(rows)
        return
    emit_table(
        ["when", "stream", "source", "reason", "raw"],
        [
            (r["created_at"], r["stream"], r["source"], r["reason"], r["raw_value"][:60])
            for r in rows
        ],
    )


def _print_progress(streams: Any) -> None:
    done = sum(s.rows_read for s in streams.values())
    typer.echo(f"  … {done} rows read", err=True)


def _load_config(value: str) -> dict[str, Any]:
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--config is not valid JSON ({exc.msg} at line {exc.lineno}); "
            "pass a JSON object or @file.json"
        ) from None
    if not isinstance(config, dict):
        raise ConfigError("--config must be a JSON object")
    return config
