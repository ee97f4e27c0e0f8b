"""Scoring Genie by its results on business users' questions.

An evaluation set is a YAML file:

    today: 2026-11-01            # relative dates resolve against the demo's reference day
    part: held_out               # development (tuned on) or held_out (only ever scored)
    thresholds: {exact: 0.9, clarify: 0.9, refuse: 1.0, empty: 0.9}
    questions:
      - q: Which five customers did we invoice the most this year?
        kind: exact              # exact | clarify | refuse | empty
        domain: finance
        sql: SELECT partner_name, sum(...) FROM ... LIMIT 5

An `exact` question passes when Genie answers and its rows equal the reference SQL's rows (run as
the service role): the same number of columns, the same rows as a set, columns matched by value
whatever their names and order, numbers equal to 1e-6 relative. `clarify` passes when Genie asks
back, `refuse` when it refuses, `empty` when it answers with no rows and says which period has
data. Every answer is also checked for a silent drop: a word of the question its plan did not
use that its notes do not mention. The report gives each kind's pass rate and the p50/p95
latency, and `ok` says whether every threshold holds and no answer dropped a word silently.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError
from ipai_core.genie.answer import GenieAnswer
from ipai_core.genie.plan import Planner
from ipai_core.genie.service import Genie
from ipai_core.lakehouse import Lakehouse

Kind = Literal["exact", "clarify", "refuse", "empty"]
KINDS: tuple[Kind, ...] = ("exact", "clarify", "refuse", "empty")
EMPTY_NOTE = "no data for"  # how an answer that found no rows for its period starts its note


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str
    kind: Kind
    domain: str = ""
    sql: str | None = None

    @model_validator(mode="after")
    def _reference(self) -> EvalCase:
        if (self.kind == "exact") != (self.sql is not None):
            raise ValueError(f"question {self.q!r}: `sql` is required for exact ones, only them")
        return self


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    today: date | None = None
    part: Literal["development", "held_out"]
    thresholds: dict[Kind, float] = Field(default_factory=dict)
    questions: list[EvalCase] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    question: str
    kind: Kind
    domain: str
    passed: bool
    failure: str
    status: str
    latency_ms: int
    silent_drop: bool = False


@dataclass(frozen=True)
class EvalReport:
    part: str
    results: tuple[CaseResult, ...]
    thresholds: dict[Kind, float]

    def of(self, kind: Kind) -> list[CaseResult]:
        return [r for r in self.results if r.kind == kind]

    def rate(self, kind: Kind) -> float | None:
        cases = self.of(kind)
        return sum(r.passed for r in cases) / len(cases) if cases else None

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def accuracy(self) -> float:
        return self.passed / len(self.results) if self.results else 0.0

    @property
    def silent_drops(self) -> list[CaseResult]:
        return [r for r in self.results if r.silent_drop]

    @property
    def shortfalls(self) -> list[str]:
        """The thresholds missed, and the silent drops; empty when the report is ok."""
        missed = []
        for kind, floor in self.thresholds.items():
            rate = self.rate(kind)
            if rate is not None and rate < floor:
                missed.append(f"{kind} {rate:.1%} < {floor:.0%}")
        if self.silent_drops:
            missed.append(f"{len(self.silent_drops)} answer(s) dropped a word without saying so")
        return missed

    @property
    def ok(self) -> bool:
        return not self.shortfalls

    def latency_ms(self, quantile: float) -> int:
        values = sorted(r.latency_ms for r in self.results)
        if not values:
            return 0
        return values[min(len(values) - 1, math.ceil(quantile * len(values)) - 1)]


def load_eval_set(path: Path) -> EvalSet:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        return EvalSet.model_validate(document)
    except FileNotFoundError as exc:
        raise ConfigError(f"no evaluation file `{path}`") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"evaluation file `{path}` is invalid: {exc}") from exc


def run_eval(
    lakehouse: Lakehouse,
    principal: Principal,
    eval_set: EvalSet,
    *,
    planner: Planner | None = None,
) -> EvalReport:
    """Ask every question as `principal` (with the set's `today`) and score the answers; the
    reference SQL runs as the service role, which sees every row."""
    today = eval_set.today
    genie = Genie(lakehouse, planner, clock=(lambda: today) if today else None)
    reference = Principal.service("genie eval: reference answers")
    results = []
    for case in eval_set.questions:
        started = time.monotonic()
        answer = genie.ask(principal, case.q)
        latency = int((time.monotonic() - started) * 1000)
        expected = lakehouse.query(reference, case.sql) if case.sql else None
        failure = check_answer(case, answer, expected)
        results.append(
            CaseResult(
                case.q,
                case.kind,
                case.domain,
                not failure,
                failure,
                answer.status,
                latency,
                silent_drop=_silent_drop(answer),
            )
        )
    return EvalReport(eval_set.part, tuple(results), dict(eval_set.thresholds))


def check_answer(case: EvalCase, answer: GenieAnswer, expected: pl.DataFrame | None) -> str:
    """Why the answer fails the case ("" when it passes)."""
    wanted = {"exact": "answer", "empty": "answer", "clarify": "clarify", "refuse": "refused"}
    if answer.status != wanted[case.kind]:
        detail = answer.explanation or answer.clarification or ""
        return f"{answer.status} instead of {wanted[case.kind]}: {detail}"
    if case.kind == "empty":
        if answer.frame is not None and answer.frame.height:
            return f"{answer.frame.height} rows for a period with no data"
        if not any(n.startswith(EMPTY_NOTE) for n in answer.notes):
            return "no note saying the period has no data and which one has"
        return ""
    if case.kind == "exact":
        assert expected is not None  # noqa: S101 - validated: exact cases carry their SQL
        return compare_rows(answer.frame, expected)
    return ""


def compare_rows(frame: pl.DataFrame | None, reference: pl.DataFrame) -> str:
    """ "" when `frame` holds the reference's rows (columns matched by value), else what
    differs."""
    if frame is None:
        return "no rows to compare with the reference"
    if frame.width != reference.width:
        return (
            f"{frame.width} column(s) {frame.columns} ≠ the reference's {reference.width} "
            f"{reference.columns}"
        )
    if frame.height != reference.height:
        return f"{frame.height} row(s) ≠ the reference's {reference.height}"
    want = sorted(_keys(reference.rows()))
    got_rows = frame.rows()
    for order in itertools.permutations(range(frame.width)):
        if sorted(_keys([tuple(r[i] for i in order) for r in got_rows])) == want:
            return ""
    sample = _keys(got_rows[:2])
    return f"rows differ: got {sample} …, reference {sorted(want)[:2]} …"


def _keys(rows: Sequence[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    return [tuple(_key(v) for v in row) for row in rows]


def _key(value: Any) -> str:
    """A value as compared: numbers to 6 significant digits, midnight timestamps as dates."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return "0" if abs(number) < 1e-9 else f"{number:.6g}"
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _silent_drop(answer: GenieAnswer) -> bool:
    """An answer whose plan left a word unused without a note naming it."""
    notes = " ".join(answer.notes).lower()
    return answer.status == "answer" and any(w.lower() not in notes for w in answer.unused_words)


def summary_lines(report: EvalReport, *, details: bool = True) -> list[str]:
    """One line per question (unless `details` is off: a held-out part is only scored), then
    the rates per kind, the silent drops and the latency."""
    lines = []
    if details:
        lines += [
            f"{'PASS' if r.passed else 'FAIL'}  {r.latency_ms:>5} ms  {r.kind:<7}  {r.question}"
            + ("" if r.passed else f"  ← {r.failure}")
            for r in report.results
        ]
    rates = []
    for kind in KINDS:
        rate = report.rate(kind)
        if rate is not None:
            floor = report.thresholds.get(kind)
            wanted = f" (≥ {floor:.0%})" if floor is not None else ""
            rates.append(f"{kind} {rate:.1%} of {len(report.of(kind))}{wanted}")
    lines.append(
        f"{report.part}: {report.passed}/{len(report.results)} = {report.accuracy:.1%}; "
        + ", ".join(rates)
        + f"; silent drops {len(report.silent_drops)}; "
        f"p50 {report.latency_ms(0.5)} ms, p95 {report.latency_ms(0.95)} ms"
        + ("" if report.ok else f"; BELOW: {', '.join(report.shortfalls)}")
    )
    return lines
