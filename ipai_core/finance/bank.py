"""What the reconciliation helper works on, read as the signed-in user: bank statement lines not
yet matched in Odoo, open receivable and payable items, and the decisions taken so far — then the
plan `reconcile.plan` makes of them, and that plan as a table.

    with lakehouse.session(me) as s:
        current = propose(s, companies=[1])
        proposals_frame(current)        # one row per proposal: line, items, score, reasons
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import polars as pl

from ipai_core.db.scoped import ScopedSession
from ipai_core.finance.period import company_filter
from ipai_core.finance.reconcile import (
    DecisionRecord,
    History,
    OpenItem,
    Plan,
    StatementLine,
    plan,
)

_LINES = """
SELECT statement_line_id, company_id, date, amount, payment_ref, ref, partner_id, partner_name,
       bank_partner_name
  FROM ipai_gold_erp.bank_statement_lines
 WHERE NOT is_reconciled
   AND (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
 ORDER BY date, statement_line_id
"""
_ITEMS = """
SELECT o.line_id, o.move_id, o.move_name, o.company_id, o.kind, o.date, o.due_date,
       o.open_amount, o.partner_id, o.partner_name, j.ref
  FROM ipai_gold_erp.open_items o
  LEFT JOIN ipai_gold_erp.journal_items j ON j.line_id = o.line_id
 WHERE (%(companies)s::bigint[] IS NULL OR o.company_id = ANY(%(companies)s))
 ORDER BY o.line_id
"""
_DECISIONS = """
SELECT statement_line_id, move_line_ids, decision
  FROM ipai_platinum_erp.reconciliation_decisions
 WHERE (%(companies)s::bigint[] IS NULL OR company_id = ANY(%(companies)s))
 ORDER BY seq
"""
PROPOSAL_COLUMNS = {
    "statement_line_id": pl.Int64(),
    "company_id": pl.Int64(),
    "date": pl.Date(),
    "amount": pl.Decimal(20, 2),
    "bank_reference": pl.String(),
    "bank_partner": pl.String(),
    "proposed": pl.String(),
    "partner": pl.String(),
    "difference": pl.Decimal(20, 2),
    "score": pl.Float64(),
    "reasons": pl.String(),
}


def statement_lines(
    session: ScopedSession, *, companies: Sequence[int] | None = None
) -> list[StatementLine]:
    """Bank statement lines Odoo has not reconciled, oldest first."""
    rows = session.query(_LINES, {"companies": company_filter(companies)}).to_dicts()
    return [
        StatementLine(
            id=r["statement_line_id"],
            company_id=r["company_id"],
            date=r["date"],
            amount=_decimal(r["amount"]),
            payment_ref=r["payment_ref"] or "",
            ref=r["ref"] or "",
            partner_id=r["partner_id"],
            partner_name=r["partner_name"] or "",
            bank_partner_name=r["bank_partner_name"] or "",
        )
        for r in rows
    ]


def open_items(session: ScopedSession, *, companies: Sequence[int] | None = None) -> list[OpenItem]:
    """Open receivable and payable items, with their document's reference."""
    rows = session.query(_ITEMS, {"companies": company_filter(companies)}).to_dicts()
    return [
        OpenItem(
            line_id=r["line_id"],
            move_id=r["move_id"],
            move_name=r["move_name"] or "",
            company_id=r["company_id"],
            kind=r["kind"],
            date=r["date"],
            due_date=r["due_date"],
            open_amount=_decimal(r["open_amount"]),
            partner_id=r["partner_id"],
            partner_name=r["partner_name"] or "",
            ref=r["ref"] or "",
        )
        for r in rows
    ]


def history(session: ScopedSession, *, companies: Sequence[int] | None = None) -> History:
    """The decisions taken so far, folded: matched lines, taken items, rejected matches."""
    rows = session.query(_DECISIONS, {"companies": company_filter(companies)}).to_dicts()
    return History.fold(
        DecisionRecord(r["statement_line_id"], tuple(r["move_line_ids"]), r["decision"])
        for r in rows
    )


def propose(session: ScopedSession, *, companies: Sequence[int] | None = None) -> Plan:
    """The current proposals for the companies (all the user may see when None)."""
    return plan(
        statement_lines(session, companies=companies),
        open_items(session, companies=companies),
        history(session, companies=companies),
    )


def proposals_frame(current: Plan) -> pl.DataFrame:
    """One row per proposal, best evidence in words: what the bank says, what is proposed."""
    rows: list[dict[str, Any]] = [
        {
            "statement_line_id": p.line.id,
            "company_id": p.line.company_id,
            "date": p.line.date,
            "amount": p.line.amount,
            "bank_reference": p.line.text,
            "bank_partner": p.line.partner_name or p.line.bank_partner_name,
            "proposed": ", ".join(i.move_name for i in p.items),
            "partner": p.items[0].partner_name,
            "difference": p.difference,
            "score": p.score,
            "reasons": "\n".join(p.reasons),
        }
        for p in current.proposals
    ]
    return pl.DataFrame(rows, schema=PROPOSAL_COLUMNS)


def unmatched_frame(current: Plan) -> pl.DataFrame:
    """Statement lines with no proposal (bank charges, interest, transfers nothing fits)."""
    rows = [
        (x.id, x.company_id, x.date, x.amount, x.text, x.partner_name or x.bank_partner_name)
        for x in current.unmatched
    ]
    schema = {k: PROPOSAL_COLUMNS[k] for k in ("statement_line_id", "company_id", "date")}
    schema |= {"amount": pl.Decimal(20, 2), "bank_reference": pl.String()}
    schema |= {"bank_partner": pl.String()}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
