"""Financial statements from gold ERP for a period and (optionally) some companies: profit and
loss, balance sheet at a date, cash flow, receivables/payables aging and open items, and the
journal lines behind any figure. Each function reads as the session's user — companies the user
may not see are simply absent — and returns a Polars frame; amounts are exact decimals.

    with lakehouse.session(me) as s:
        pnl = profit_and_loss(s, period=Period(date(2026, 1, 1), date(2026, 10, 1)))
        pnl_totals(pnl).net_profit                     # Decimal
        journal_lines(s, period=..., section="income")  # what the income figure is made of
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import polars as pl

from ipai_core.db.scoped import ScopedSession
from ipai_core.finance.period import Period, company_filter

Section = Literal["income", "expense", "asset", "liability", "equity"]
ItemKind = Literal["receivable", "payable"]
ZERO = Decimal(0)

_COMPANIES = """
SELECT DISTINCT company_id, company_name FROM ipai_gold_erp.balance_sheet_monthly
 ORDER BY company_id
"""
_MONTHS = """
SELECT DISTINCT month FROM ipai_gold_erp.profit_and_loss
 WHERE (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
 ORDER BY month
"""
_PROFIT_AND_LOSS = """
SELECT company_id, company_name, month, section, account_type, amount
  FROM ipai_gold_erp.profit_and_loss
 WHERE month BETWEEN %(first)s AND %(last)s
   AND (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
 ORDER BY month, company_id, section, account_type
"""
_BALANCE_SHEET = """
SELECT company_id, section, account_type, amount
  FROM ipai_gold_erp.balance_sheet_at(%(at)s)
 WHERE (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
 ORDER BY company_id, array_position(ARRAY['asset', 'liability', 'equity'], section),
          account_type
"""
_CASH_FLOW = """
SELECT company_id, company_name, month, inflow, outflow, net_change, closing_balance
  FROM ipai_gold_erp.cash_flow
 WHERE month BETWEEN %(first)s AND %(last)s
   AND (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
 ORDER BY month, company_id
"""
_AGING = """
SELECT company_id, kind, partner_id, partner_name, not_due, days_0_30, days_31_60, days_61_90,
       days_90_plus, total_open
  FROM ipai_gold_erp.aging
 WHERE kind = %(kind)s
   AND (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
 ORDER BY total_open DESC NULLS LAST, partner_name
"""
_OPEN_ITEMS = """
SELECT company_id, kind, move_name, partner_name, date, due_date, open_amount, days_overdue,
       line_id, move_id
  FROM ipai_gold_erp.open_items
 WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)
   AND (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
 ORDER BY due_date, move_name
"""
# `amount` as the statements show it: income, liabilities and equity positive when in credit.
_JOURNAL_LINES = """
SELECT date, move_name, account_code, account_name, section, account_type, partner_name, label,
       debit, credit,
       CASE WHEN section IN ('income', 'liability', 'equity') THEN -balance ELSE balance END
         AS amount,
       company_id, move_id, line_id
  FROM ipai_gold_erp.journal_items
 WHERE date BETWEEN %(first)s AND %(last)s
   AND (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
   AND (%(section)s::text IS NULL OR section = %(section)s)
   AND (%(account_type)s::text IS NULL OR account_type = %(account_type)s)
 ORDER BY date, line_id
 LIMIT %(limit)s
"""


@dataclass(frozen=True)
class PnlTotals:
    income: Decimal
    expenses: Decimal

    @property
    def net_profit(self) -> Decimal:
        return self.income - self.expenses


@dataclass(frozen=True)
class BalanceTotals:
    assets: Decimal
    liabilities: Decimal
    equity: Decimal

    @property
    def balanced(self) -> bool:
        """Assets equal liabilities plus equity (current earnings included in equity)."""
        return self.assets == self.liabilities + self.equity


def companies(session: ScopedSession) -> pl.DataFrame:
    """The companies whose books the user may see: `company_id`, `company_name`."""
    return session.query(_COMPANIES)


def months(session: ScopedSession, *, companies: Sequence[int] | None = None) -> list[date]:
    """The months with income or expense booked, oldest first (first day of each month)."""
    frame = session.query(_MONTHS, {"companies": company_filter(companies)})
    return [m for m in frame["month"].to_list() if m is not None]


def profit_and_loss(
    session: ScopedSession, *, period: Period, companies: Sequence[int] | None = None
) -> pl.DataFrame:
    """Income and expense per month, company and account type (amounts positive)."""
    return session.query(_PROFIT_AND_LOSS, _params(period, companies))


def pnl_totals(pnl: pl.DataFrame) -> PnlTotals:
    """Income and expenses summed over a `profit_and_loss` frame."""
    return PnlTotals(_section_sum(pnl, "income"), _section_sum(pnl, "expense"))


def pnl_by_month(pnl: pl.DataFrame) -> pl.DataFrame:
    """One row per month: `month`, `income`, `expenses`, `net_profit` (all companies summed)."""
    months = sorted(set(pnl["month"].to_list()))
    rows = []
    for month in months:
        totals = pnl_totals(pnl.filter(pl.col("month") == month))
        rows.append((month, totals.income, totals.expenses, totals.net_profit))
    return _decimal_frame(["month", "income", "expenses", "net_profit"], rows, pl.Date())


def pnl_figures(pnl: pl.DataFrame, *, by_month: bool = True) -> pl.DataFrame:
    """The figures a P&L shows — `amount` per (month,) section and account type, all companies
    summed — income first: what a reader picks to drill into."""
    keys = ["month", "section", "account_type"] if by_month else ["section", "account_type"]
    return (
        pnl.group_by(keys)
        .agg(pl.col("amount").sum())
        .sort(keys, descending=[k == "section" for k in keys])
    )


def balance_sheet(
    session: ScopedSession, *, at: date, companies: Sequence[int] | None = None
) -> pl.DataFrame:
    """Assets, liabilities and equity at the end of `at`, per company and account type; income
    and expense not yet closed appear in equity as `current_earnings`."""
    return session.query(_BALANCE_SHEET, {"at": at, "companies": company_filter(companies)})


def balance_totals(sheet: pl.DataFrame) -> BalanceTotals:
    return BalanceTotals(
        _section_sum(sheet, "asset"),
        _section_sum(sheet, "liability"),
        _section_sum(sheet, "equity"),
    )


def cash_flow(
    session: ScopedSession, *, period: Period, companies: Sequence[int] | None = None
) -> pl.DataFrame:
    """Bank and cash inflow, outflow, net change and closing balance per month and company."""
    return session.query(_CASH_FLOW, _params(period, companies))


def aging(
    session: ScopedSession, *, kind: ItemKind, companies: Sequence[int] | None = None
) -> pl.DataFrame:
    """Open receivables or payables per partner in buckets of days overdue."""
    return session.query(_AGING, {"kind": kind, "companies": company_filter(companies)})


def open_items(
    session: ScopedSession,
    *,
    kind: ItemKind | None = None,
    companies: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Open receivable and payable items, oldest due first."""
    return session.query(_OPEN_ITEMS, {"kind": kind, "companies": company_filter(companies)})


def journal_lines(
    session: ScopedSession,
    *,
    period: Period,
    companies: Sequence[int] | None = None,
    section: Section | None = None,
    account_type: str | None = None,
    limit: int = 5_000,
) -> pl.DataFrame:
    """The posted journal lines behind a figure: its period, companies, section and account
    type. `amount` carries the statements' sign, so the lines of a P&L figure sum to it."""
    params = _params(period, companies) | {"section": section, "account_type": account_type}
    return session.query(_JOURNAL_LINES, params | {"limit": limit})


def _params(period: Period, companies: Sequence[int] | None) -> dict[str, Any]:
    return {"first": period.first, "last": period.last, "companies": company_filter(companies)}


def _section_sum(frame: pl.DataFrame, section: str) -> Decimal:
    values = frame.filter(pl.col("section") == section)["amount"].to_list()
    return sum((Decimal(str(v)) for v in values if v is not None), ZERO)


def _decimal_frame(
    columns: list[str], rows: list[tuple[Any, ...]], key: pl.DataType
) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {columns[0]: key}
    schema |= {c: pl.Decimal(20, 4) for c in columns[1:]}
    return pl.DataFrame(rows, schema=schema, orient="row")
