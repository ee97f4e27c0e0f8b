"""Scoring Genie against a YAML set of questions with expected plans and results.

    today: 2026-11-01            # time phrases resolve against this day
    min_accuracy: 0.9
    questions:
      - q: Revenue last quarter by company
        expect: {dataset: profit_and_loss, measures: [revenue], dimensions: [company],
                 time_range: [2026-07-01, 2026-10-01]}
        reference_sql: SELECT company_name, sum(amount) FROM …   # optional: rows must match

A question passes when every expectation it lists holds; the report gives the accuracy and the
p50/p95 latency of the answers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError
from ipai_core.genie.answer import GenieAnswer
from ipai_core.genie.plan import Planner
from ipai_core.genie.service import Genie
from ipai_core.lakehouse import Lakehouse
from ipai_core.semantic.query import Filter, SemanticQuery


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = "answer"
    dataset: str | None = None
    measures: list[str] | None = None
    dimensions: list[str] | None = None
    time_grain: str | None = None
    time_range: tuple[date | None, date | None] | None = None
    filters: list[Filter] = Field(default_factory=list)
    limit: int | None = None
    order_by: tuple[str, bool] | None = None
    rows: int | None = None


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str
    expect: Expectation = Field(default_factory=Expectation)
    reference_sql: str | None = None


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    today: date | None = None
    min_accuracy: float = Field(default=0.9, ge=0, le=1)
    questions: list[EvalCase] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    question: str
    passed: bool
    failures: tuple[str, ...]
    status: str
    latency_ms: int


@dataclass(frozen=True)
class EvalReport:
    results: tuple[CaseResult, ...]
    min_accuracy: float

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def accuracy(self) -> float:
        return self.passed / len(self.results) if self.results else 0.0

    @property
    def ok(self) -> bool:
        return self.accuracy >= self.min_accuracy

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
    """Ask every question as `principal` (with the set's `today`) and check the answers."""
    today = eval_set.today
    genie = Genie(lakehouse, planner, clock=(lambda: today) if today else None)
    results = []
    for case in eval_set.questions:
        started = time.monotonic()
        answer = genie.ask(principal, case.q)
        latency = int((time.monotonic() - started) * 1000)
        failures = check_answer(case, answer)
        if case.reference_sql and not failures:
            failures += _compare_rows(answer.frame, lakehouse.query(principal, case.reference_sql))
        results.append(CaseResult(case.q, not failures, tuple(failures), answer.status, latency))
    return EvalReport(tuple(results), eval_set.min_accuracy)


def check_answer(case: EvalCase, answer: GenieAnswer) -> list[str]:
    """What differs between the answer and the expectations (empty: it passes)."""
    expect = case.expect
    if answer.status != expect.status:
        detail = answer.explanation or answer.clarification or ""
        return [f"status {answer.status} ≠ {expect.status}: {detail}"]
    if expect.status != "answer":
        return []
    failures = []
    if expect.dataset is not None and answer.dataset != expect.dataset:
        failures.append(f"dataset {answer.dataset} ≠ {expect.dataset}")
    if answer.query is not None:
        failures += _check_query(expect, answer.query)
    if expect.rows is not None and (answer.frame is None or answer.frame.height != expect.rows):
        height = None if answer.frame is None else answer.frame.height
        failures.append(f"rows {height} ≠ {expect.rows}")
    return failures


def _check_query(expect: Expectation, query: SemanticQuery) -> list[str]:
    failures = []
    if expect.measures is not None and sorted(query.measures) != sorted(expect.measures):
        failures.append(f"measures {query.measures} ≠ {expect.measures}")
    if expect.dimensions is not None and sorted(query.dimensions) != sorted(expect.dimensions):
        failures.append(f"dimensions {query.dimensions} ≠ {expect.dimensions}")
    if expect.time_grain is not None and query.time_grain != expect.time_grain:
        failures.append(f"grain {query.time_grain} ≠ {expect.time_grain}")
    if expect.time_range is not None:
        got = (query.time_range.start, query.time_range.end) if query.time_range else None
        if got != tuple(expect.time_range):
            failures.append(f"time range {got} ≠ {tuple(expect.time_range)}")
    for wanted in expect.filters:
        if not any(_same_filter(f, wanted) for f in query.filters):
            failures.append(f"no filter {wanted.field} {wanted.op} {wanted.value}")
    if expect.limit is not None and query.limit != expect.limit:
        failures.append(f"limit {query.limit} ≠ {expect.limit}")
    if expect.order_by is not None:
        got_order = (query.order_by[0].field, query.order_by[0].desc) if query.order_by else None
        if got_order != tuple(expect.order_by):
            failures.append(f"order {got_order} ≠ {tuple(expect.order_by)}")
    return failures


def _same_filter(got: Filter, wanted: Filter) -> bool:
    if (got.field, got.op) != (wanted.field, wanted.op):
        return False
    return (
        _close(got.value, wanted.value)
        if isinstance(wanted.value, int | float)
        else (str(got.value) == str(wanted.value))
    )


def _compare_rows(frame: pl.DataFrame | None, reference: pl.DataFrame) -> list[str]:
    if frame is None:
        return ["no rows to compare with the reference"]
    if frame.width != reference.width:
        return [f"{frame.width} columns ≠ the reference's {reference.width}"]
    got, want = _sorted_rows(frame), _sorted_rows(reference)
    if len(got) != len(want):
        return [f"{len(got)} rows ≠ the reference's {len(want)}"]
    for a, b in zip(got, want, strict=True):
        if not all(_close(x, y) for x, y in zip(a, b, strict=True)):
            return [f"row {list(a)} ≠ reference {list(b)}"]
    return []


def _sorted_rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return sorted((tuple(_plain(v) for v in row) for row in frame.rows()), key=repr)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    return value


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6)
    return bool(a == b)


def summary_lines(report: EvalReport) -> Sequence[str]:
    lines = [
        f"{'PASS' if r.passed else 'FAIL'}  {r.latency_ms:>5} ms  {r.question}"
        + ("" if r.passed else f"  ← {'; '.join(r.failures)}")
        for r in report.results
    ]
    lines.append(
        f"accuracy {report.accuracy:.1%} ({report.passed}/{len(report.results)}), "
        f"p50 {report.latency_ms(0.5)} ms, p95 {report.latency_ms(0.95)} ms, "
        f"threshold {report.min_accuracy:.0%}"
    )
    return lines
