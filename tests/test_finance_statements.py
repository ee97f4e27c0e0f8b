"""Financial statements read as finance users from the demo ERP: the P&L agrees with a direct sum
over gold journal items for the same company and period, the balance sheet balances, a figure's
journal lines add up to it, and company scoping holds."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from ipai_core import Lakehouse, Principal
from ipai_core.errors import InvalidPeriod
from ipai_core.finance import statements
from ipai_core.finance.period import Period
from tests.support.users import new_user

CENT = Decimal("0.01")
YEAR = Period(date(2025, 11, 1), date(2026, 10, 31))
SUMMER = Period(date(2026, 6, 1), date(2026, 8, 31))


@pytest.fixture(scope="module")
def lake(demo_lakehouse: Lakehouse) -> Lakehouse:
    return demo_lakehouse


def sign_in(lake: Lakehouse, roles: list[str]) -> Principal:
    return lake.authenticate(new_user(lake, roles).token)


@pytest.fixture(scope="module")
def cfo(lake: Lakehouse) -> Principal:
    return sign_in(lake, ["finance"])


def direct_sums(
    lake: Lakehouse, who: Principal, period: Period, company: int
) -> dict[str, Decimal]:
    rows = lake.query(
        who,
        "SELECT section, sum(CASE WHEN section = 'income' THEN -balance ELSE balance END) AS total"
        " FROM ipai_gold_erp.journal_items"
        " WHERE company_id = %s AND date BETWEEN %s AND %s AND section IN ('income', 'expense')"
        " GROUP BY section",
        [company, period.first, period.last],
    )
    return {r["section"]: Decimal(str(r["total"])) for r in rows.to_dicts()}


@pytest.mark.parametrize("period", [YEAR, SUMMER], ids=["year", "summer"])
@pytest.mark.parametrize("company", [1, 2])
def test_pnl_totals_equal_a_direct_sum_over_journal_items(
    lake: Lakehouse, cfo: Principal, period: Period, company: int
) -> None:
    with lake.session(cfo) as s:
        pnl = statements.profit_and_loss(s, period=period, companies=[company])
    totals = statements.pnl_totals(pnl)
    expected = direct_sums(lake, cfo, period, company)
    assert totals.income.quantize(CENT) == expected["income"].quantize(CENT) > 0
    assert totals.expenses.quantize(CENT) == expected["expense"].quantize(CENT) > 0
    assert totals.net_profit == totals.income - totals.expenses
    assert set(pnl["company_id"].to_list()) == {company}
    assert {m.isoformat()[:7] for m in pnl["month"].to_list()} <= {
        f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)
    }
    monthly = statements.pnl_by_month(pnl)
    assert sum(monthly["net_profit"].to_list()) == totals.net_profit
    assert monthly["month"].to_list() == sorted(set(pnl["month"].to_list()))


def test_every_company_together_is_the_sum_of_each(lake: Lakehouse, cfo: Principal) -> None:
    with lake.session(cfo) as s:
        both = statements.pnl_totals(statements.profit_and_loss(s, period=SUMMER))
        each = [
            statements.pnl_totals(statements.profit_and_loss(s, period=SUMMER, companies=[c]))
            for c in (1, 2)
        ]
    assert both.income == sum(t.income for t in each)
    assert both.net_profit == sum(t.net_profit for t in each)


@pytest.mark.parametrize("at", [date(2026, 1, 15), date(2026, 6, 30), date(2026, 10, 31)])
def test_balance_sheet_balances(lake: Lakehouse, cfo: Principal, at: date) -> None:
    with lake.session(cfo) as s:
        sheet = statements.balance_sheet(s, at=at)
        for company in (1, 2):
            one = statements.balance_sheet(s, at=at, companies=[company])
            assert statements.balance_totals(one).balanced, (company, at)
    totals = statements.balance_totals(sheet)
    assert totals.balanced and totals.assets > 0
    assert "current_earnings" in sheet["account_type"].to_list()


def test_a_figures_journal_lines_add_up_to_it(lake: Lakehouse, cfo: Principal) -> None:
    month = Period(date(2026, 7, 1), date(2026, 7, 1))
    with lake.session(cfo) as s:
        pnl = statements.profit_and_loss(s, period=month, companies=[1])
        for row in pnl.to_dicts():
            lines = statements.journal_lines(
                s,
                period=month,
                companies=[1],
                section=row["section"],
                account_type=row["account_type"],
            )
            assert lines.height > 0
            assert set(lines["date"].to_list()) <= {date(2026, 7, d) for d in range(1, 32)}
            assert sum(lines["amount"].to_list()) == row["amount"], row


def test_cash_flow_aging_and_open_items_agree(lake: Lakehouse, cfo: Principal) -> None:
    with lake.session(cfo) as s:
        flow = statements.cash_flow(s, period=SUMMER, companies=[2])
        receivables = statements.aging(s, kind="receivable")
        items = statements.open_items(s, kind="receivable")
        payables = statements.open_items(s, kind="payable", companies=[1])
    assert flow.height == 3 and set(flow["company_id"].to_list()) == {2}
    assert all(r["inflow"] - r["outflow"] == r["net_change"] for r in flow.to_dicts())
    assert sum(receivables["total_open"].to_list()) == sum(items["open_amount"].to_list())
    assert set(items["kind"].to_list()) == {"receivable"}
    assert payables.height > 0 and set(payables["company_id"].to_list()) == {1}


def test_company_names_and_scoping(lake: Lakehouse, cfo: Principal) -> None:
    with lake.session(cfo) as s:
        everything = statements.companies(s)
    assert everything["company_name"].to_list() == ["IPAI Demo Manila", "IPAI Demo Singapore"]
    token = lake.tokens.issue(
        user_id=str(uuid.uuid4()),
        email="one-company@example.test",
        roles=["finance"],
        extra_claims={"app_metadata": {"roles": ["finance"], "company_ids": [2]}},
    )
    limited = lake.authenticate(token)
    with lake.session(limited) as s:
        assert statements.companies(s)["company_id"].to_list() == [2]
        pnl = statements.profit_and_loss(s, period=YEAR)
        lines = statements.journal_lines(s, period=SUMMER, section="income")
        asked_for_other = statements.profit_and_loss(s, period=YEAR, companies=[1])
    assert set(pnl["company_id"].to_list()) == {2}
    assert lines.height > 0 and set(lines["company_id"].to_list()) == {2}
    assert asked_for_other.is_empty()


def test_users_without_a_finance_role_see_no_figures(lake: Lakehouse) -> None:
    analyst = sign_in(lake, ["analyst"])
    with lake.session(analyst) as s:
        assert statements.companies(s).is_empty()
        assert statements.profit_and_loss(s, period=YEAR).is_empty()
        assert statements.journal_lines(s, period=YEAR).is_empty()
        assert statements.balance_sheet(s, at=date(2026, 6, 30)).is_empty()


def test_periods_are_whole_months() -> None:
    period = Period(date(2026, 2, 14), date(2026, 4, 3))
    assert (period.first, period.last) == (date(2026, 2, 1), date(2026, 4, 30))
    assert period.label() == "2026-02 to 2026-04"
    trailing = Period.trailing(12, before=date(2026, 11, 1))
    assert (trailing.first, trailing.last) == (date(2025, 11, 1), date(2026, 10, 31))
    assert Period.trailing(1, before=date(2026, 1, 20)).label() == "2025-12"
    with pytest.raises(InvalidPeriod):
        Period(date(2026, 5, 1), date(2026, 4, 30))
    with pytest.raises(InvalidPeriod):
        Period.trailing(0, before=date(2026, 1, 1))
