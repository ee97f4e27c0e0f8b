"""`ipai slo status [--json] [--check]`: every enabled SLO as `public.ipai_slo_status` computes
it — current value, objective, error budget left and burn rates."""

from __future__ import annotations

import typer

from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.db.principal import Principal
from ipai_core.lakehouse import Lakehouse
from ipai_core.observability.slo import slo_status

app = typer.Typer(help="Service level objectives and their error budgets.", no_args_is_help=True)

HEADERS = (
    *("slo", "current", "objective", "met", "events", "bad", "budget left"),
    *("burn 1h", "burn 6h", "burn window"),
)
CHECK_OPTION = typer.Option(
    False, "--check", help="Exit 1 when any objective is not met (for cron or CI)."
)


@app.command()
def status(as_json: bool = JSON_OPTION, check: bool = CHECK_OPTION) -> None:
    """Show each SLO: value, objective, met, budget left, burn rate over 1 h / 6 h / window."""
    with Lakehouse.open() as lh, lh.session(Principal.service("cli: slo status")) as s:
        slos = slo_status(s)
    if as_json:
        emit_json([slo.as_json() for slo in slos])
    else:
        emit_table(
            HEADERS,
            [
                (
                    slo.label,
                    slo.show(slo.current_value),
                    slo.show(slo.objective),
                    "yes" if slo.objective_met else "NO",
                    slo.events,
                    slo.bad,
                    f"{slo.budget_remaining:.0%}",
                    f"{slo.burn_rate_1h:g}",
                    f"{slo.burn_rate_6h:g}",
                    f"{slo.burn_rate_window:g}",
                )
                for slo in slos
            ],
        )
    if check and not all(slo.objective_met for slo in slos):
        raise typer.Exit(1)
