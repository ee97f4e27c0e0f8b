"""`ipai transform run [--select …] [--plan]`: refresh materialized views in dependency order."""

from __future__ import annotations

import typer

from ipai_core.cli.output import JSON_OPTION, emit_json
from ipai_core.errors import IpaiError
from ipai_core.lakehouse import Lakehouse
from ipai_core.transform.runner import plan, run_transformations

app = typer.Typer(help="Silver/gold/platinum materialized views.", no_args_is_help=True)

SELECT_OPTION = typer.Option(
    None,
    "--select",
    "-s",
    help="schema.view, view, schema.*, view+ (downstream), +view "
    "(upstream); repeatable. Default: all.",
)
PLAN_OPTION = typer.Option(False, "--plan", help="Print the order; refresh nothing.")


@app.command()
def run(
    select: list[str] | None = SELECT_OPTION,
    only_plan: bool = PLAN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Refresh materialized views in dependency order (concurrently where possible)."""
    with Lakehouse.open() as lh:
        if only_plan:
            for step in plan(lh, select).steps:
                typer.echo(f"{step.view}{' (concurrently)' if step.concurrently else ''}")
            return
        result = run_transformations(lh, select, trigger="cli")
    if as_json:
        emit_json([o.__dict__ for o in result.outcomes])
    else:
        for o in result.outcomes:
            typer.echo(
                f"{o.status:8} {o.seconds:7.2f}s  {o.view}" + (f"  — {o.error}" if o.error else "")
            )
        typer.echo(
            f"{len(result.outcomes)} view(s) refreshed" if result.ok else "some views failed"
        )
    if not result.ok:
        raise IpaiError("transformation run failed; see the lines above")
