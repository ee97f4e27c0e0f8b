"""The Genie app through AppTest over the demo: an analyst asks in English and gets the table,
the chart and the SQL, equal to what the Genie service answers; a clarification offers its
options; free-SQL mode runs a checked SELECT; a user without a Genie role is refused."""

from __future__ import annotations

import pytest

from ipai_core import Genie, Lakehouse
from tests.support.apps import assert_refused, run_app_page
from tests.support.users import new_user

SLUG = "ipai-genie"


@pytest.fixture(scope="module")
def admin_token(demo_lakehouse: Lakehouse) -> str:
    return new_user(demo_lakehouse, ["admin"]).token


def test_question_gets_table_chart_and_sql(demo_lakehouse: Lakehouse, admin_token: str) -> None:
    question = "Deployments per week by repository"
    app = run_app_page(SLUG, admin_token, settings=demo_lakehouse.settings)
    app.chat_input[0].set_value(question).run()
    assert not app.exception, [e.value for e in app.exception]
    expected = Genie(demo_lakehouse).ask(demo_lakehouse.authenticate(admin_token), question)
    assert expected.status == "answer" and expected.frame is not None and expected.sql
    shown = app.dataframe[-1].value
    assert len(shown) == expected.frame.height
    assert list(shown.columns) == expected.frame.columns
    assert app.code[-1].value == expected.sql
    assert app.get("plotly_chart")


def test_free_sql_mode_runs_a_checked_select(demo_lakehouse: Lakehouse, admin_token: str) -> None:
    app = run_app_page(SLUG, admin_token, settings=demo_lakehouse.settings)
    app.toggle[0].set_value(True).run()
    app.chat_input[0].set_value("SELECT repository FROM ipai_gold_devops.dora_summary").run()
    assert not app.exception
    assert len(app.dataframe[-1].value) >= 2
    app.chat_input[0].set_value("DELETE FROM ipai_gold_devops.dora_summary").run()
    assert not app.exception
    assert app.info, "a refused statement is explained on the page"


def test_user_without_a_genie_role_is_refused(demo_lakehouse: Lakehouse) -> None:
    token = new_user(demo_lakehouse, ["viewer"]).token
    assert_refused(run_app_page(SLUG, token, settings=demo_lakehouse.settings))
