"""`ipai genie ask "…" [--sql] [--json]` and `ipai genie eval [FILE]`: questions in English (or
one SELECT) answered under a user's RLS, and the planner scored against an evaluation set.

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
from ipai_core.genie.evaluation import load_eval_set, run_eval, summary_lines
from ipai_core.genie.service import Genie
from ipai_core.lakehouse import Lakehouse

DEMO_EVAL_SET = Path(__file__).resolve().parent.parent / "genie" / "evalsets" / "demo.yaml"
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
MIN_ACCURACY_OPTION = typer.Option(
    None, "--min-accuracy", help="Fail under this accuracy (default: the file's min_accuracy)."
)
EVAL_FILE = typer.Argument(
    DEMO_EVAL_SET, help="YAML evaluation set (default: the shipped demo set).", show_default=False
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
    file: Path = EVAL_FILE,
    as_email: str | None = AS_OPTION,
    token: str | None = TOKEN_OPTION,
    min_accuracy: float | None = MIN_ACCURACY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask every question of an evaluation set; print accuracy and p50/p95 latency."""
    eval_set = load_eval_set(file)
    if min_accuracy is not None:
        eval_set = eval_set.model_copy(update={"min_accuracy": min_accuracy})
    with Lakehouse.open() as lh:
        report = run_eval(lh, _principal(lh, as_email, token), eval_set)
    if as_json:
        emit_json(
            {
                "accuracy": report.accuracy,
                "passed": report.passed,
                "questions": len(report.results),
                "p50_ms": report.latency_ms(0.5),
                "p95_ms": report.latency_ms(0.95),
                "min_accuracy": report.min_accuracy,
                "results": [r.__dict__ for r in report.results],
            }
        )
    else:
        for line in summary_lines(report):
            typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


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
