"""`ipai genie ask "…" [--sql] [--json]` and `ipai genie eval [FILE]`: questions in English (or
one SELECT) answered under a user's RLS, and Genie scored by its results on evaluation sets (the
shipped development part, tuned on, and the held-out part, only ever scored).

Genie always answers as somebody: `--token` (or IPAI_TOKEN) as that token's user (verified with
`Lakehouse.authenticate`, so a signed-out or revoked token is refused), or
`--as EMAIL` — the operator of this command already holds the database, so acting as a local
user is allowed; the look-up of that user is a service-role session, audited as every one is.
Exit codes: 0 answered, 2 asked back (clarify), 1 refused or failed.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer

from ipai_core.auth import users
from ipai_core.cli.output import JSON_OPTION, emit_json
from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError
from ipai_core.genie.answer import GenieAnswer
from ipai_core.genie.evaluation import (
    KINDS,
    EvalReport,
    load_eval_set,
    run_eval,
    summary_lines,
)
from ipai_core.genie.service import Genie
from ipai_core.lakehouse import Lakehouse

EVAL_SETS = Path(__file__).resolve().parent.parent / "genie" / "evalsets"
SHIPPED_EVAL_SETS = (EVAL_SETS / "business_dev.yaml", EVAL_SETS / "business_held_out.yaml")
EXIT_CODES = {"answer": 0, "clarify": 2, "refused": 1, "error": 1}

app = typer.Typer(help="Ask questions of the lakehouse in English.", no_args_is_help=True)

AS_OPTION = typer.Option(None, "--as", help="Answer as this local user (e-mail).")
TOKEN_OPTION = typer.Option(
    None, "--token", envvar="IPAI_TOKEN", help="Answer as this token's user (or IPAI_TOKEN)."
)
SQL_OPTION = typer.Option(
    False, "--sql", help="The argument is one SELECT (free-SQL mode), not a question."
)
ROWS_OPTION = typer.Option(20, "--rows", help="Rows to print (all rows go into --json).")
EVAL_FILES = typer.Argument(
    None,
    help="YAML evaluation sets (default: the shipped development and held-out parts).",
    show_default=False,
)
SHOW_HELD_OUT_OPTION = typer.Option(
    False,
    "--show-held-out",
    help="Also list a held-out part's questions (its scores are always printed; its questions "
    "are hidden so nobody tunes on them by accident).",
)


@app.command()
def ask(
    question: str,
    as_email: str | None = AS_OPTION,
    token: str | None = TOKEN_OPTION,
    free_sql: bool = SQL_OPTION,
    rows: int = ROWS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Answer a question (or with --sql run one SELECT) as a user, under their RLS."""
    with Lakehouse.open() as lh:
        principal = _principal(lh, as_email, token)
        genie = Genie(lh)
        answer = genie.run_sql(principal, question) if free_sql else genie.ask(principal, question)
    if as_json:
        emit_json(answer.to_dict())
    else:
        _print(answer, rows)
    raise typer.Exit(EXIT_CODES[answer.status])


@app.command("eval")
def evaluate(
    files: list[Path] | None = EVAL_FILES,
    as_email: str | None = AS_OPTION,
    token: str | None = TOKEN_OPTION,
    show_held_out: bool = SHOW_HELD_OUT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask every question of the evaluation sets; print each part's pass rates per kind, its
    silent drops and p50/p95 latency. Exits 1 when a part misses one of its thresholds."""
    eval_sets = [load_eval_set(f) for f in (files or SHIPPED_EVAL_SETS)]
    with Lakehouse.open() as lh:
        principal = _principal(lh, as_email, token)
        reports = [run_eval(lh, principal, e) for e in eval_sets]
    if as_json:
        emit_json([_report_json(r) for r in reports])
    else:
        for report in reports:
            details = report.part != "held_out" or show_held_out
            for line in summary_lines(report, details=details):
                typer.echo(line)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def _report_json(report: EvalReport) -> dict[str, object]:
    hidden = report.part == "held_out"
    return {
        "part": report.part,
        "accuracy": report.accuracy,
        "passed": report.passed,
        "questions": len(report.results),
        "rates": {k: report.rate(k) for k in KINDS},
        "thresholds": report.thresholds,
        "silent_drops": len(report.silent_drops),
        "p50_ms": report.latency_ms(0.5),
        "p95_ms": report.latency_ms(0.95),
        "ok": report.ok,
        "results": None if hidden else [r.__dict__ for r in report.results],
    }


def _principal(lh: Lakehouse, email: str | None, token: str | None) -> Principal:
    if token:
        return lh.authenticate(token)
    if not email:
        raise ConfigError(
            "say who is asking: `--as EMAIL` (a local user) or `--token TOKEN` (or IPAI_TOKEN); "
            "Genie answers only what that user may read"
        )
    issued = users.issue_token(lh.tokens, users.account(lh.db, email), ttl_seconds=300)
    return lh.authenticate(issued)


def _print(answer: GenieAnswer, rows: int) -> None:
    if answer.status == "clarify":
        typer.echo(answer.clarification or "Which one do you mean?")
        return
    if answer.status != "answer":
        typer.secho(f"{answer.status}: {answer.explanation}", fg=typer.colors.RED, err=True)
        return
    typer.echo(answer.explanation)
    for note in answer.notes:
        typer.echo(f"note: {note}")
    frame = answer.frame if answer.frame is not None else pl.DataFrame()
    with pl.Config(tbl_rows=rows, tbl_cols=-1, fmt_str_lengths=40, tbl_hide_dataframe_shape=True):
        typer.echo(str(frame))
    if answer.chart is not None:
        chart = answer.chart
        pairs = (("x", chart.x), ("y", chart.y), ("color", chart.color))
        axes = ", ".join(f"{k}={v}" for k, v in pairs if v)
        typer.echo(f"chart: {chart.kind}" + (f" ({axes})" if axes else ""))
    typer.echo(f"sql: {answer.sql}")
    if answer.params:
        typer.echo(f"params: {answer.to_dict(max_rows=0)['params']}")
    typer.echo(f"{answer.planner} planner, {answer.latency_ms} ms")
