"""The DevOps Health app through AppTest over the demo: a devops user sees the DORA metrics of
every repository, equal to the gold summary; a user without the role is refused."""

from __future__ import annotations

import pytest

from ipai_core import Lakehouse
from tests.support.apps import assert_refused, run_app_page
from tests.support.users import new_user

SLUG = "ipai-devops-health"


@pytest.fixture(scope="module")
def devops_token(demo_lakehouse: Lakehouse) -> str:
    return new_user(demo_lakehouse, ["devops"]).token


def test_devops_user_sees_the_dora_metrics(demo_lakehouse: Lakehouse, devops_token: str) -> None:
    app = run_app_page(SLUG, devops_token, settings=demo_lakehouse.settings)
    summary = demo_lakehouse.query(
        demo_lakehouse.authenticate(devops_token),
        "SELECT repository, deployments_per_week, change_failure_rate"
        " FROM ipai_gold_devops.dora_summary ORDER BY repository",
    ).to_dicts()
    assert summary
    frequencies = [m.value for m in app.metric if m.label == "Deployment frequency"]
    assert frequencies == [f"{float(r['deployments_per_week']):,.2f} / week" for r in summary]
    failure_rates = [m.value for m in app.metric if m.label == "Change failure rate"]
    assert failure_rates == [
        "n/a" if r["change_failure_rate"] is None else f"{float(r['change_failure_rate']):.1%}"
        for r in summary
    ]
    assert [h.value for h in app.subheader][: len(summary)] == [r["repository"] for r in summary]
    assert app.get("plotly_chart")  # the charts over time render
    assert not app.info  # no empty-state notice: the demo has data


def test_picking_one_repository_narrows_the_page(
    demo_lakehouse: Lakehouse, devops_token: str
) -> None:
    app = run_app_page(SLUG, devops_token, settings=demo_lakehouse.settings)
    first = app.multiselect[0].options[0]
    app.multiselect[0].set_value([first]).run()
    assert not app.exception
    assert len([m for m in app.metric if m.label == "Deployment frequency"]) == 1


def test_user_without_the_role_is_refused(demo_lakehouse: Lakehouse) -> None:
    token = new_user(demo_lakehouse, ["finance"]).token
    assert_refused(run_app_page(SLUG, token, settings=demo_lakehouse.settings))
