"""DevOps Health's figures (`ipai_core.devops.health`) over the demo: the weekly DORA view adds
up to the per-repository summary, and the CI status is the latest default-branch run, checked
against the demo objects in plain Python."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from conftest import DEMO_TODAY

from ipai_core import AccessDenied, Lakehouse, Principal
from ipai_core.demo.devops_data import DevopsDemo, parse_time
from ipai_core.devops import health
from tests.support.users import new_user


@pytest.fixture(scope="module")
def lake(demo_lakehouse: Lakehouse) -> Lakehouse:
    return demo_lakehouse


@pytest.fixture(scope="module")
def devops(lake: Lakehouse) -> object:
    return lake.authenticate(new_user(lake, ["devops"]).token)


def test_weekly_dora_adds_up_to_the_summary(lake: Lakehouse, devops: object) -> None:
    with lake.session(devops) as s:  # type: ignore[arg-type]
        summary = {r["repository"]: r for r in health.dora_summary(s).to_dicts()}
        weekly = health.dora_weekly(s)
    assert summary and weekly.height > len(summary)  # several weeks per repository
    for repo, row in summary.items():
        weeks = weekly.filter(weekly["repository"] == repo)
        assert weeks["deployments"].sum() == row["production_deployments"]
        failed = weeks["failed_deployments"].sum()
        rate = row["change_failure_rate"]
        expected = round(failed / row["production_deployments"], 4) if failed else None
        assert (float(rate) if rate is not None and failed else None) == expected
        assert weeks["week"].is_sorted()


def test_ci_status_is_the_latest_default_branch_run(lake: Lakehouse, devops: object) -> None:
    demo = DevopsDemo.generate(reference=datetime.combine(DEMO_TODAY, time(18), UTC))
    with lake.session(devops) as s:  # type: ignore[arg-type]
        status = {r["repository"]: r for r in health.ci_status(s).to_dicts()}
    assert set(status) == set(demo.repositories)
    for name, repo in demo.repositories.items():
        runs = [
            r
            for r in repo.workflow_runs
            if r["name"] == "CI" and r["status"] == "completed" and r["head_branch"] == "main"
        ]
        latest = max(runs, key=lambda r: (parse_time(r["updated_at"]), r["run_number"]))
        assert status[name]["last_run_number"] == latest["run_number"]
        assert status[name]["last_conclusion"] == latest["conclusion"]
        assert status[name]["runs_last_7_days"] >= 1


def test_repository_filter(lake: Lakehouse, devops: object) -> None:
    with lake.session(devops) as s:  # type: ignore[arg-type]
        every = health.repositories(s)
        one = health.deployments_weekly(s, every[:1])
    assert len(every) >= 2
    assert set(one["repository"]) == {every[0]}


def test_health_figures_need_the_role(lake: Lakehouse) -> None:
    finance = lake.authenticate(new_user(lake, ["finance"]).token)
    with lake.session(finance) as s:
        assert health.ci_status(s).height == 0  # the guard filters every row
        assert health.repositories(s) == []
    with pytest.raises(AccessDenied), lake.session(Principal.anonymous()) as s:
        health.dora_weekly(s)  # anon has no grant on gold at all
