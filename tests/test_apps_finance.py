"""The Finance Command Center page (AppTest) over the demo: a finance user sees the P&L metrics the
gold view gives for the default period, a user without the role is refused, an auditor may look
but not decide, accepting a proposed match in the page writes the decision row, and the LLM
explains a match only with the flag on and a provider configured."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from ipai_core import Lakehouse
from ipai_core.apps import flags
from ipai_core.workspace import identity
from tests.support.apps import assert_refused, run_app_page
from tests.support.openai_standin import OpenAIStandIn, Reply
from tests.support.users import new_user

SLUG = "ipai-finance-command-center"


@pytest.fixture(scope="module")
def lake(demo_lakehouse: Lakehouse) -> Iterator[Lakehouse]:
    yield demo_lakehouse
    identity.use_settings(None)


def token(lake: Lakehouse, roles: list[str]) -> tuple[str, str]:
    """(user id, token) of a new user with `roles`."""
    user = new_user(lake, roles)
    return user.id, user.token


def gold_pnl_of_last_twelve_months(lake: Lakehouse) -> dict[str, Decimal]:
    """The page's default: every company, the last 12 months with bookings."""
    with psycopg.connect(lake.owner_url) as owner:
        income, expense = owner.execute(
            "WITH months AS (SELECT DISTINCT month FROM ipai_gold_erp.mv_profit_and_loss"
            "  ORDER BY month DESC LIMIT 12)"
            " SELECT sum(amount) FILTER (WHERE section = 'income'),"
            "        sum(amount) FILTER (WHERE section = 'expense')"
            " FROM ipai_gold_erp.mv_profit_and_loss WHERE month IN (SELECT month FROM months)"
        ).fetchone()
    return {"Income": income, "Expenses": expense, "Net profit": income - expense}


def shown(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_finance_user_sees_the_gold_pnl(lake: Lakehouse) -> None:
    _, cfo = token(lake, ["finance"])
    app = run_app_page(SLUG, cfo, settings=lake.settings)
    expected = gold_pnl_of_last_twelve_months(lake)
    metrics = shown(app)
    for label, value in expected.items():
        assert metrics[label] == f"{value:,.2f}", label
    assert Decimal(metrics["Assets"].replace(",", "")) > 0
    assert [t.label for t in app.tabs] == [
        "Profit & loss",
        "Balance sheet",
        "Cash flow",
        "Receivables & payables",
        "Reconciliation",
    ]
    assert app.success[0].value.startswith("Assets equal liabilities plus equity")
    assert len(app.get("plotly_chart")) >= 4
    assert app.dataframe and not app.error


def companies(app: AppTest) -> Any:
    return next(w for w in app.multiselect if w.label == "Companies")


def test_filters_narrow_the_figures_to_one_company(lake: Lakehouse) -> None:
    _, cfo = token(lake, ["finance"])
    app = run_app_page(SLUG, cfo, settings=lake.settings)
    everything = Decimal(shown(app)["Income"].replace(",", ""))
    companies(app).set_value([1]).run()
    one = Decimal(shown(app)["Income"].replace(",", ""))
    assert 0 < one < everything
    companies(app).set_value([]).run()
    assert any("Pick at least one company" in i.value for i in app.info)


def test_a_user_without_a_finance_role_is_refused(lake: Lakehouse) -> None:
    _, analyst = token(lake, ["analyst"])
    assert_refused(run_app_page(SLUG, analyst, settings=lake.settings))


def test_an_auditor_reviews_but_cannot_decide(lake: Lakehouse) -> None:
    _, auditor = token(lake, ["auditor"])
    app = run_app_page(SLUG, auditor, settings=lake.settings)
    assert shown(app)["Income"] != "0.00"
    assert app.button(key="accept").disabled and app.button(key="reject").disabled
    assert any("Only finance users" in c.value for c in app.caption)


def test_accepting_a_proposal_in_the_page_writes_the_decision(lake: Lakehouse) -> None:
    user_id, cfo = token(lake, ["finance"])
    app = run_app_page(SLUG, cfo, settings=lake.settings)
    review = next(w for w in app.selectbox if w.label == "Review a match")
    line_id = review.value
    app.text_input(key="decision-note").input("checked against the remittance")
    app.button(key="accept").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(s.value.startswith("Accepted:") for s in app.success)
    with psycopg.connect(lake.owner_url) as owner:
        rows = owner.execute(
            "SELECT decision, decided_by::text, reason"
            " FROM ipai_platinum_erp.reconciliation_decisions"
            " WHERE statement_line_id = %s ORDER BY seq",
            [line_id],
        ).fetchall()
        audited = owner.execute(
            "SELECT count(*) FROM public.ipai_audit_log WHERE action = 'reconciliation_accepted'"
            " AND user_id = %s AND details ->> 'statement_line_id' = %s",
            [user_id, str(line_id)],
        ).fetchone()
    assert rows[-1] == ("accepted", user_id, "checked against the remittance")
    assert audited == (1,)
    assert next(w for w in app.selectbox if w.label == "Review a match").value != line_id
    decided = app.dataframe[-1].value  # the Decisions table, newest first
    assert decided["statement_line_id"].iloc[0] == line_id


def test_llm_explanations_follow_the_flag_and_the_configured_provider(lake: Lakehouse) -> None:
    _, cfo = token(lake, ["finance"])
    admin = lake.authenticate(token(lake, ["admin"])[1])
    with lake.session(admin) as s:
        flags.set_flag(s, SLUG, "llm_explanations", role="finance", enabled=True)
    try:
        unconfigured = run_app_page(SLUG, cfo, settings=lake.settings)
        assert any("no language model is configured" in c.value for c in unconfigured.caption)
        with OpenAIStandIn() as llm:
            llm.respond_with(lambda request: Reply(content="Paid in full by the customer."))
            configured = lake.settings.model_copy(
                update={"llm_base_url": llm.base_url, "llm_api_key": SecretStr("k")}
            )
            app = run_app_page(SLUG, cfo, settings=configured)
            assert any(m.value == "Paid in full by the customer." for m in app.markdown)
            assert len(llm.chat_requests) == 1
    finally:
        with lake.session(admin) as s:
            flags.clear_flag(s, SLUG, "llm_explanations", role="finance")
        identity.use_settings(lake.settings)
