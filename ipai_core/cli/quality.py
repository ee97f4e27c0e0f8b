"""`ipai quality list|add|remove|run|results`: data quality checks and their results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.db.principal import Principal
from ipai_core.errors import CheckFailed, ConfigError
from ipai_core.lakehouse import Lakehouse
from ipai_core.quality.checks import KINDS
from ipai_core.quality.runner import run_checks, select_checks
from ipai_core.quality.store import (
    current_columns,
    list_checks,
    make_spec,
    remove_check,
    save_check,
)

app = typer.Typer(help="Data quality checks on lakehouse tables and views.", no_args_is_help=True)

_LATEST = """
SELECT c.name, r.status, r.started_at, r.message
  FROM public.ipai_dq_check c
  LEFT JOIN LATERAL (SELECT status, started_at, message FROM public.ipai_dq_result
                      WHERE check_id = c.id ORDER BY started_at DESC LIMIT 1) r ON true
"""
_RESULTS = """
SELECT c.name AS check, r.started_at, r.status, r.trigger, r.message, r.observed
  FROM public.ipai_dq_result r JOIN public.ipai_dq_check c ON c.id = r.check_id
 WHERE %(check)s::text IS NULL OR c.name = %(check)s
 ORDER BY r.started_at DESC LIMIT %(limit)s
"""


CHECKS_OPTION = typer.Option(None, "--check", "-c", help="Check name; repeatable.")


def _cli(reason: str) -> Principal:
    return Principal.service(f"cli: quality {reason}")


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """Every check with its latest result."""
    with Lakehouse.open() as lh, lh.session(_cli("list")) as s:
        checks = list_checks(s)
        latest = {row[0]: row[1:] for row in s.query(_LATEST).rows()}
    if as_json:
        emit_json(
            [
                {**c.__dict__, "status": latest[c.name][0], "checked_at": latest[c.name][1]}
                for c in checks
            ]
        )
        return
    emit_table(
        ["name", "target", "kind", "severity", "schedule", "enabled", "status", "checked at"],
        [
            (
                c.name,
                c.target,
                c.kind,
                c.severity,
                c.schedule or "-",
                "yes" if c.enabled else "no",
                latest[c.name][0] or "never run",
                latest[c.name][1],
            )
            for c in checks
        ],
    )


@app.command()
def add(
    name: str,
    target: str = typer.Option(..., "--target", "-t", help="schema.relation to check."),
    kind: str = typer.Option(..., "--kind", "-k", help=f"One of: {', '.join(KINDS)}."),
    params: str = typer.Option(
        "{}",
        "--params",
        "-p",
        help="JSON, or @path/to/params.json. schema_drift without `columns`: the target's "
        "current columns are the snapshot.",
    ),
    severity: str = typer.Option("error", help="warn or error."),
    schedule: str | None = typer.Option(None, help="Cron (UTC) for scheduled runs."),
    description: str = typer.Option("", help="What the check protects."),
    disabled: bool = typer.Option(False, "--disabled", help="Save it without running it."),
    replace: bool = typer.Option(False, "--replace", help="Update an existing check."),
) -> None:
    """Define a check (its params are validated by the kind's model)."""
    document = _load_json(params)
    with Lakehouse.open() as lh, lh.session(_cli("add")) as s:
        if kind == "schema_drift" and "columns" not in document:
            document["columns"] = current_columns(s, target)
        spec = make_spec(
            name=name,
            target=target,
            kind=kind,
            params=document,
            severity=severity,
            schedule=schedule,
            enabled=not disabled,
            description=description,
        )
        saved = save_check(s, spec, replace=replace)
    typer.echo(f"check {saved.name} ({saved.kind} on {saved.target}) saved")


@app.command()
def remove(name: str) -> None:
    """Remove a check and its results."""
    with Lakehouse.open() as lh, lh.session(_cli("remove")) as s:
        remove_check(s, name)
    typer.echo(f"check {name} removed")


@app.command()
def run(
    check: list[str] | None = CHECKS_OPTION,
    target: str | None = typer.Option(None, "--target", "-t", help="Only checks of this relation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run enabled checks now (all, by name, or by target); exits 1 when one fails or errors."""
    with Lakehouse.open() as lh:
        outcomes = run_checks(lh, select_checks(lh, names=check, target=target), trigger="manual")
    if as_json:
        emit_json([{**o.__dict__, "alert": o.alert and o.alert.change} for o in outcomes])
    else:
        for o in outcomes:
            alert = f"  [alert {o.alert.change}]" if o.alert else ""
            typer.echo(f"{o.status:5}  {o.check}: {o.message}{alert}")
        typer.echo(f"{len(outcomes)} check(s) run")
    failures = [f"{o.check}: {o.message}" for o in outcomes if o.status in ("fail", "error")]
    if failures:
        raise CheckFailed(
            f"{len(failures)} check(s) failed; see `ipai quality results` for the details",
            failures=failures,
        )


@app.command()
def results(
    check: str | None = typer.Option(None, "--check", "-c", help="Only this check."),
    limit: int = typer.Option(50, min=1, help="How many results, newest first."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recent results, newest first."""
    with Lakehouse.open() as lh, lh.session(_cli("results")) as s:
        frame = s.query(_RESULTS, {"check": check, "limit": limit})
    if as_json:
        emit_json(
            [
                {**row, "observed": json.loads(row["observed"])}
                for row in frame.iter_rows(named=True)
            ]
        )
        return
    emit_table(
        ["checked at", "check", "status", "trigger", "message"],
        [(r[1], r[0], r[2], r[3], r[4]) for r in frame.rows()],
    )


def _load_json(text: str) -> dict[str, Any]:
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--params is not JSON ({exc.msg}); pass an object like '{{}}'") from None
    if not isinstance(value, dict):
        raise ConfigError('--params must be a JSON object, e.g. \'{"column": "id"}\'')
    return value
