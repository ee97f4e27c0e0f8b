"""Finance on top of gold ERP, as the signed-in user sees it (the database scopes companies).

Statements for a period and companies (`statements`): profit and loss, balance sheet at a date,
cash flow, aging, open items, and the journal lines behind a figure. The bank reconciliation
helper: `reconcile` plans matches between unreconciled bank statement lines and open items (pure,
no database), `bank` reads its inputs and shows the plan as a table, `explain` words a match
(optionally through the LLM provider), `decisions` records an accepted or rejected match with its
audit entry.

Apps use this package as `from ipai_core import finance`, then `finance.profit_and_loss(...)`.
"""

from ipai_core.finance.bank import open_items as reconciliation_items
from ipai_core.finance.bank import proposals_frame, propose, statement_lines, unmatched_frame
from ipai_core.finance.decisions import (
    Match,
    RecordedDecision,
    accept,
    current_decisions,
    decide,
    reject,
)
from ipai_core.finance.explain import Explanation, explain, provider_for
from ipai_core.finance.period import Period
from ipai_core.finance.reconcile import OpenItem, Plan, Proposal, StatementLine, plan
from ipai_core.finance.statements import (
    BalanceTotals,
    ItemKind,
    PnlTotals,
    Section,
    aging,
    balance_sheet,
    balance_totals,
    cash_flow,
    companies,
    journal_lines,
    months,
    open_items,
    pnl_by_month,
    pnl_figures,
    pnl_totals,
    profit_and_loss,
)

__all__ = [
    "BalanceTotals",
    "Explanation",
    "ItemKind",
    "Match",
    "OpenItem",
    "Period",
    "Plan",
    "PnlTotals",
    "Proposal",
    "RecordedDecision",
    "Section",
    "StatementLine",
    "accept",
    "aging",
    "balance_sheet",
    "balance_totals",
    "cash_flow",
    "companies",
    "current_decisions",
    "decide",
    "explain",
    "journal_lines",
    "months",
    "open_items",
    "plan",
    "pnl_by_month",
    "pnl_figures",
    "pnl_totals",
    "profit_and_loss",
    "proposals_frame",
    "propose",
    "provider_for",
    "reconciliation_items",
    "reject",
    "statement_lines",
    "unmatched_frame",
]
