"""Genie scored by its results: the shipped evaluation sets (a development part it was tuned on
and a held-out part it is only scored on) over the demo data, each held to its thresholds; and
the evaluator itself, which must be able to fail."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import TEST_JWT_SECRET

from ipai_core.auth import users
from ipai_core.cli.genie import SHIPPED_EVAL_SETS
from ipai_core.genie.answer import GenieAnswer
from ipai_core.genie.evaluation import (
    EvalCase,
    check_answer,
    compare_rows,
    load_eval_set,
    run_eval,
    summary_lines,
)
from ipai_core.lakehouse import Lakehouse

IPAI = Path(sys.executable).parent / "ipai"


def test_the_shipped_sets_are_large_enough_and_hold_back_a_part() -> None:
    development, held_out = (load_eval_set(path) for path in SHIPPED_EVAL_SETS)
    assert (development.part, held_out.part) == ("development", "held_out")
    total = len(development.questions) + len(held_out.questions)
    assert total >= 150 and len(held_out.questions) >= 0.4 * total
    for part in (development, held_out):
        kinds = {case.kind for case in part.questions}
        assert kinds == {"exact", "clarify", "refuse", "empty"}
        assert {"finance", "devops", "retail"} <= {case.domain for case in part.questions}
        assert part.today == date(2026, 11, 1)  # the demo's reference day in the tests
    asked = {c.q.lower() for c in development.questions}
    assert not asked & {c.q.lower() for c in held_out.questions}


@pytest.mark.parametrize("path", SHIPPED_EVAL_SETS, ids=lambda p: p.stem)
def test_genie_meets_the_thresholds_of_each_shipped_part(
    demo_lakehouse: Lakehouse, path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eval_set = load_eval_set(path)
    admin_token = demo_lakehouse.tokens.issue(
        user_id=str(uuid.uuid4()), email="eval@example.test", roles=["admin"]
    )
    report = run_eval(demo_lakehouse, demo_lakehouse.authenticate(admin_token), eval_set)
    with capsys.disabled():
        print("\n" + summary_lines(report, details=False)[-1])
    assert eval_set.thresholds, "a shipped part states the thresholds CI holds it to"
    assert report.ok, report.shortfalls
    assert not report.silent_drops


def test_an_exact_answer_must_have_the_reference_rows_whatever_the_column_names() -> None:
    reference = pl.DataFrame({"partner_name": ["A", "B"], "total": [10.0, 2.5]})
    same = pl.DataFrame({"amount": [2.5000000001, 10.0], "partner": ["B", "A"]})
    assert compare_rows(same, reference) == ""
    assert "column" in compare_rows(same.with_columns(pl.lit(1).alias("month")), reference)
    assert "row" in compare_rows(same.head(1), reference)
    assert "differ" in compare_rows(same.with_columns(pl.col("amount") * 2), reference)
    assert compare_rows(None, reference)


def test_each_kind_passes_only_on_its_own_status() -> None:
    exact = EvalCase(q="Revenue by company", kind="exact", sql="SELECT 1")
    clarify = EvalCase(q="the big one", kind="clarify")
    refuse = EvalCase(q="drop table x", kind="refuse")
    empty = EvalCase(q="revenue in 2020", kind="empty")
    asked_back = GenieAnswer("clarify", "q", "offline", clarification="Which one?")
    refused = GenieAnswer("refused", "q", "offline", explanation="no")
    rows = pl.DataFrame({"revenue": [1]})
    answered = GenieAnswer("answer", "q", "offline", frame=rows)
    assert check_answer(exact, answered, pl.DataFrame({"x": [1]})) == ""
    assert check_answer(exact, asked_back, rows).startswith("clarify instead of answer")
    assert check_answer(clarify, asked_back, None) == ""
    assert check_answer(clarify, answered, None)
    assert check_answer(refuse, refused, None) == ""
    assert check_answer(refuse, asked_back, None)
    silent_empty = GenieAnswer("answer", "q", "offline", frame=rows.clear())
    said_empty = GenieAnswer(
        "answer", "q", "offline", frame=rows.clear(), notes=("no data for 2020; x has …",)
    )
    assert check_answer(empty, silent_empty, None).startswith("no note saying")
    assert check_answer(empty, said_empty, None) == ""
    assert check_answer(empty, answered, None) == "1 rows for a period with no data"
    with pytest.raises(ValueError, match="sql"):
        EvalCase(q="x", kind="clarify", sql="SELECT 1")


def test_cli_eval_exits_non_zero_under_a_threshold(
    demo_lakehouse: Lakehouse, tmp_path: Path
) -> None:
    email = f"genie-eval-{uuid.uuid4().hex[:6]}@example.test"
    users.add_user(demo_lakehouse.db, email, "a long enough password", ["admin"])
    reference = "SELECT count(*) FROM ipai_silver_devops.deployments WHERE false"

    def write(name: str, exact_floor: float) -> Path:
        path = tmp_path / name
        path.write_text(
            "today: 2026-11-01\n"
            "part: development\n"
            f"thresholds: {{exact: {exact_floor}, refuse: 1.0}}\n"
            "questions:\n"
            "  - q: drop table ipai_gold_erp.aging\n"
            "    kind: refuse\n"
            "  - q: How many incidents were there?\n"
            "    kind: exact\n"
            f"    sql: {reference}\n",
            encoding="utf-8",
        )
        return path

    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATABASE_URL": demo_lakehouse.owner_url,
        "IPAI_DATA_DIR": str(tmp_path),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
    }

    def evaluate(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IPAI), "genie", "eval", str(path), "--as", email],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    strict = evaluate(write("strict.yaml", 1.0))  # the incident count is not the reference's 0
    assert strict.returncode == 1, strict.stderr
    assert "development: 1/2 = 50.0%" in strict.stdout and "BELOW: exact 0.0% < 100%" in (
        strict.stdout
    )
    assert "FAIL" in strict.stdout and "PASS" in strict.stdout
    lenient = evaluate(write("lenient.yaml", 0.0))
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
