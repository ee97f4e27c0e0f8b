"""The shipped evaluation set: at least 40 questions over the demo data, answered by the offline
planner with at least 90 % accuracy; and the evaluator itself (it must be able to fail)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import TEST_JWT_SECRET

from ipai_core.auth import users
from ipai_core.genie.answer import GenieAnswer
from ipai_core.genie.evaluation import EvalCase, check_answer, load_eval_set, run_eval
from ipai_core.lakehouse import Lakehouse
from ipai_core.semantic.query import SemanticQuery

DEMO_SET = Path(__file__).resolve().parent.parent / "ipai_core" / "genie" / "evalsets" / "demo.yaml"
IPAI = Path(sys.executable).parent / "ipai"


def test_the_offline_planner_passes_the_demo_evaluation_set(
    demo_lakehouse: Lakehouse, capsys: pytest.CaptureFixture[str]
) -> None:
    eval_set = load_eval_set(DEMO_SET)
    assert len(eval_set.questions) >= 40
    admin_token = demo_lakehouse.tokens.issue(
        user_id=str(uuid.uuid4()), email="eval@example.test", roles=["admin"]
    )
    report = run_eval(demo_lakehouse, demo_lakehouse.authenticate(admin_token), eval_set)
    failures = [f"{r.question}: {r.failures}" for r in report.results if not r.passed]
    with capsys.disabled():
        print(
            f"\ngenie eval: {report.passed}/{len(report.results)} = {report.accuracy:.1%}, "
            f"p50 {report.latency_ms(0.5)} ms, p95 {report.latency_ms(0.95)} ms"
        )
        for failure in failures:
            print(f"  missed: {failure}")
    assert report.accuracy >= 0.9, failures
    assert report.ok
    assert 0 < report.latency_ms(0.5) <= report.latency_ms(0.95)


def test_the_evaluator_reports_what_differs() -> None:
    case = EvalCase.model_validate(
        {
            "q": "Revenue by company",
            "expect": {
                "dataset": "profit_and_loss",
                "measures": ["revenue"],
                "dimensions": ["company"],
                "filters": [{"field": "company", "op": "=", "value": "IPAI Demo Manila"}],
                "limit": 5,
            },
        }
    )
    query = SemanticQuery(
        dataset="profit_and_loss", measures=["net_profit"], dimensions=["company"]
    )
    answer = GenieAnswer("answer", case.q, "offline", dataset="profit_and_loss", query=query)
    failures = check_answer(case, answer)
    assert len(failures) == 3
    assert any("measures" in f for f in failures) and any("limit" in f for f in failures)
    clarified = GenieAnswer("clarify", case.q, "offline", clarification="Which one?")
    assert check_answer(case, clarified) == ["status clarify ≠ answer: Which one?"]


def test_cli_eval_exits_non_zero_under_the_threshold(
    demo_lakehouse: Lakehouse, tmp_path: Path
) -> None:
    email = f"genie-eval-{uuid.uuid4().hex[:6]}@example.test"
    users.add_user(demo_lakehouse.db, email, "a long enough password", ["admin"])
    questions = tmp_path / "two.yaml"
    questions.write_text(
        "today: 2026-11-01\n"
        "questions:\n"
        "  - q: Incidents by repository\n"
        "    expect: {dataset: incidents, measures: [incidents], dimensions: [repository]}\n"
        "  - q: Incidents by repository\n"
        "    expect: {dataset: lead_time}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATABASE_URL": demo_lakehouse.owner_url,
        "IPAI_DATA_DIR": str(tmp_path),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
    }

    def evaluate(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IPAI), "genie", "eval", str(questions), "--as", email, *options],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    strict = evaluate()
    assert strict.returncode == 1, strict.stderr
    assert "accuracy 50.0% (1/2)" in strict.stdout and "FAIL" in strict.stdout
    lenient = evaluate("--min-accuracy", "0.5")
    assert lenient.returncode == 0, lenient.stderr
