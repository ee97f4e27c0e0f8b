"""DevOps demo data through the real github connector into gold; the DORA numbers are checked
against an independent computation in plain Python over the same demo objects."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import DEMO_TODAY

from ipai_core import Lakehouse
from ipai_core.auth import users
from ipai_core.demo.devops_data import DevopsDemo, parse_time

TODAY = DEMO_TODAY


@pytest.fixture(scope="module")
def lake(demo_lakehouse: Lakehouse) -> Lakehouse:
    return demo_lakehouse


@pytest.fixture(scope="module")
def devops_token(lake: Lakehouse) -> str:
    users.add_user(lake.db, "devops@example.test", "long-enough-pw", ["devops"])
    return users.sign_in(lake.db, lake.tokens, "devops@example.test", "long-enough-pw")


def demo() -> DevopsDemo:
    return DevopsDemo.generate(reference=datetime.combine(TODAY, time(18), UTC))


def outcome(statuses: list[dict]) -> tuple[str, datetime] | None:  # type: ignore[type-arg]
    for s in sorted(statuses, key=lambda s: (parse_time(s["created_at"]), s["id"])):
        if s["state"] in ("success", "failure", "error"):
            return s["state"], parse_time(s["created_at"])
    return None


def expected_summary() -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = {}
    for name, repo in demo().repositories.items():
        prod = []
        for d in repo.deployments:
            o = outcome(repo.statuses.get(d["id"], []))
            if d["environment"] == "production" and o:
                prod.append((d, *o))
        successes = sorted(at for _, state, at in prod if state == "success")
        failures = [at for _, state, at in prod if state != "success"]
        leads = []
        for pr in repo.pulls:
            if pr.get("merged_at"):
                merged = parse_time(pr["merged_at"])
                after = [at for at in successes if at >= merged]
                if after:
                    leads.append((after[0] - parse_time(pr["created_at"])).total_seconds() / 3600)
        restores = []
        for failed_at in failures:
            later = [at for at in successes if at > failed_at]
            if later:
                restores.append((later[0] - failed_at).total_seconds() / 3600)
        ci = [
            r
            for r in repo.workflow_runs
            if r["name"] == "CI"
            and r["status"] == "completed"
            and r["conclusion"] in ("success", "failure", "timed_out", "startup_failure")
        ]
        result[name] = {
            "production_deployments": len(prod),
            "change_failure_rate": round(Decimal(len(failures)) / Decimal(len(prod)), 4)
            if prod
            else None,
            "median_lead_time_hours": round(statistics.median(leads), 2) if leads else None,
            "median_time_to_restore_hours": round(statistics.median(restores), 2)
            if restores
            else None,
            "ci_success_rate": round(
                Decimal(sum(r["conclusion"] == "success" for r in ci)) / Decimal(len(ci)), 4
            )
            if ci
            else None,
        }
    return result


def test_dora_summary_matches_an_independent_computation(
    lake: Lakehouse, devops_token: str
) -> None:
    me = lake.authenticate(devops_token)
    rows = lake.query(me, "SELECT * FROM ipai_gold_devops.dora_summary").to_dicts()
    got = {r["repository"]: r for r in rows}
    expected = expected_summary()
    assert set(got) == set(expected)
    for repo, want in expected.items():
        have = got[repo]
        assert have["production_deployments"] == want["production_deployments"], repo
        for key in ("change_failure_rate", "ci_success_rate"):
            assert (None if have[key] is None else Decimal(str(have[key]))) == want[key], (
                repo,
                key,
            )
        for key in ("median_lead_time_hours", "median_time_to_restore_hours"):
            value = have[key]
            assert value is not None and want[key] is not None
            assert abs(float(value) - float(want[key])) <= 0.01, (repo, key, value, want[key])
        assert have["deployment_frequency_level"] in ("elite", "high", "medium", "low")


def test_spec_kit_coverage_per_repository(lake: Lakehouse, devops_token: str) -> None:
    me = lake.authenticate(devops_token)
    rows = lake.query(me, "SELECT repository, spec_kit_coverage FROM ipai_gold_devops.dora_summary")
    coverage = {r["repository"]: float(r["spec_kit_coverage"]) for r in rows.to_dicts()}
    assert coverage["ipai-demo/ledger-api"] == 1.0
    assert 0 < coverage["ipai-demo/web-portal"] < 1.0


def test_devops_gold_needs_the_role(lake: Lakehouse) -> None:
    users.add_user(lake.db, "fin@example.test", "long-enough-pw", ["finance"])
    token = users.sign_in(lake.db, lake.tokens, "fin@example.test", "long-enough-pw")
    assert (
        lake.query(lake.authenticate(token), "SELECT * FROM ipai_gold_devops.dora_summary").height
        == 0
    )


def test_demo_is_not_loaded_twice(lake: Lakehouse, tmp_path: Path) -> None:
    from ipai_core.demo.load import demo_loaded

    assert demo_loaded(lake)
