"""ERP demo data through the real odoo connector into gold: the balance sheet balances, and P&L,
cash and aging equal an independent computation over the same Odoo records."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from conftest import DEMO_TODAY

from ipai_core import AccessDenied, Lakehouse
from ipai_core.demo.erp_data import ErpDemo
from tests.support.users import new_user

TODAY = DEMO_TODAY
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def lake(demo_lakehouse: Lakehouse) -> Lakehouse:
    return demo_lakehouse


def token(lake: Lakehouse, email: str, roles: list[str]) -> str:
    return new_user(lake, roles, email=email).token


@pytest.fixture(scope="module")
def finance(lake: Lakehouse) -> Any:
    return lake.authenticate(token(lake, "cfo@example.test", ["finance"]))


def posted_lines() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    demo = ErpDemo.generate(reference_date=TODAY)
    accounts = {a["id"]: a for a in demo.rows("account.account")}
    return [
        (line, accounts[line["account_id"][0]])
        for line in demo.rows("account.move.line")
        if line["parent_state"] == "posted"
    ]


def test_balance_sheet_balances_every_month(lake: Lakehouse, finance: Any) -> None:
    rows = lake.query(
        finance,
        "SELECT company_id, month_end, section, sum(amount) AS amount"
        " FROM ipai_gold_erp.balance_sheet_monthly GROUP BY 1, 2, 3",
    )
    totals: dict[tuple[int, date], dict[str, Decimal]] = defaultdict(dict)
    for r in rows.to_dicts():
        totals[(r["company_id"], r["month_end"])][r["section"]] = Decimal(str(r["amount"]))
    assert len(totals) >= 24, "two companies, a year of month ends"
    for key, sections in totals.items():
        assert sections["asset"] == sections.get("liability", 0) + sections["equity"], key
        assert sections["asset"] > 0


def test_balance_sheet_at_a_date_balances(lake: Lakehouse, finance: Any) -> None:
    rows = lake.query(
        finance,
        "SELECT section, sum(amount) AS amount FROM ipai_gold_erp.balance_sheet_at(%s) GROUP BY 1",
        [date(2026, 6, 15)],
    )
    by_section = {r["section"]: Decimal(str(r["amount"])) for r in rows.to_dicts()}
    assert by_section["asset"] == by_section["liability"] + by_section["equity"]


def test_profit_and_loss_equals_hand_computed(lake: Lakehouse, finance: Any) -> None:
    expected: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
    for line, account in posted_lines():
        kind = account["account_type"]
        if kind.startswith(("income", "expense")):
            section = "income" if kind.startswith("income") else "expense"
            balance = Decimal(str(line["debit"])) - Decimal(str(line["credit"]))
            month = line["date"][:7]
            expected[(line["company_id"][0], month, section)] += (
                -balance if section == "income" else balance
            )
    rows = lake.query(
        finance,
        "SELECT company_id, to_char(month, 'YYYY-MM') AS month, section,"
        " sum(amount) AS amount FROM ipai_gold_erp.profit_and_loss"
        " GROUP BY 1, 2, 3",
    )
    got = {
        (r["company_id"], r["month"], r["section"]): Decimal(str(r["amount"])).quantize(CENT)
        for r in rows.to_dicts()
    }
    assert got == {k: v.quantize(CENT) for k, v in expected.items()}


def test_receivables_open_and_aging_totals_agree(lake: Lakehouse, finance: Any) -> None:
    expected: dict[int, Decimal] = defaultdict(Decimal)
    for line, account in posted_lines():
        if account["account_type"] == "asset_receivable" and line["amount_residual"]:
            expected[line["company_id"][0]] += Decimal(str(line["amount_residual"]))
    rows = lake.query(
        finance,
        "SELECT company_id, sum(total_open) AS open,"
        " sum(coalesce(not_due, 0) + coalesce(days_0_30, 0)"
        " + coalesce(days_31_60, 0) + coalesce(days_61_90, 0)"
        " + coalesce(days_90_plus, 0)) AS buckets"
        " FROM ipai_gold_erp.aging WHERE kind = 'receivable' GROUP BY 1",
    )
    for r in rows.to_dicts():
        open_amount = Decimal(str(r["open"])).quantize(CENT)
        assert open_amount == expected[r["company_id"]].quantize(CENT)
        assert Decimal(str(r["buckets"])).quantize(CENT) == open_amount
    assert len(rows) == len(expected)


def test_cash_flow_closing_balance_is_the_running_sum(lake: Lakehouse, finance: Any) -> None:
    rows = lake.query(
        finance,
        "SELECT company_id, month, net_change, closing_balance"
        " FROM ipai_gold_erp.cash_flow ORDER BY company_id, month",
    ).to_dicts()
    running: dict[int, Decimal] = defaultdict(Decimal)
    for r in rows:
        running[r["company_id"]] += Decimal(str(r["net_change"]))
        assert Decimal(str(r["closing_balance"])) == running[r["company_id"]]


def test_company_scoping_and_roles(lake: Lakehouse) -> None:
    companies = lake.query(
        lake.authenticate(token(lake, "admin2@example.test", ["admin"])),
        "SELECT DISTINCT company_id FROM ipai_gold_erp.profit_and_loss",
    )
    assert companies.height == 2
    first = sorted(companies["company_id"].to_list())[0]
    scoped_token = lake.tokens.issue(
        user_id="00000000-0000-0000-0000-00000000c0de",
        email="scoped@example.test",
        roles=["finance"],
        extra_claims={
            "app_metadata": {"provider": "ipai", "roles": ["finance"], "company_ids": [first]}
        },
    )
    scoped = lake.query(
        lake.authenticate(scoped_token),
        "SELECT DISTINCT company_id FROM ipai_gold_erp.profit_and_loss",
    )
    assert scoped["company_id"].to_list() == [first]
    devops = lake.authenticate(token(lake, "dev@example.test", ["devops"]))
    assert lake.query(devops, "SELECT * FROM ipai_gold_erp.profit_and_loss").height == 0
    with pytest.raises(AccessDenied):
        lake.query(devops, "SELECT * FROM ipai_gold_erp.mv_profit_and_loss")


def test_rls_coverage_is_complete_with_all_gold_models(lake: Lakehouse) -> None:
    from ipai_core.governance.rls_check import rls_coverage

    with psycopg.connect(lake.owner_url) as conn:
        coverage = rls_coverage(conn)
    assert coverage.total >= 20 and coverage.percent == 100.0, coverage.failures
