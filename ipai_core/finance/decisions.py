"""Accepting or rejecting a proposed reconciliation match, as the signed-in user.

A decision is a row in `ipai_platinum_erp.reconciliation_decisions` plus an audit entry
(`public.ipai_audit`, event type `app`), both in the caller's transaction: either both are kept or
neither. The database decides who may: finance (or admin) of the line's company — anyone else's
insert is refused by RLS and surfaces as `AccessDenied`. Decisions are never changed; a newer one
supersedes (rejecting an accepted match puts the line back among the proposals).

    with lakehouse.session(me) as s:
        accept(s, proposal, reason="fee confirmed with the customer")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ReconciliationConflict
from ipai_core.finance.period import company_filter
from ipai_core.finance.reconcile import Proposal

AUDIT_EVENT_TYPE = "app"
AUDIT_TARGET = "reconciliation_decision"
_LOCK_CLASS = 7_215_301  # pg_advisory_xact_lock(class, company): one decider per company at once

_CLAIMED = """
SELECT statement_line_id, move_line_ids FROM ipai_platinum_erp.reconciliation_current
 WHERE company_id = %(company)s AND decision = 'accepted'
   AND (statement_line_id = %(line)s OR move_line_ids && %(items)s::bigint[])
"""
_INSERT = """
INSERT INTO ipai_platinum_erp.reconciliation_decisions
       (company_id, statement_line_id, move_line_ids, score, decision, reason)
VALUES (%(company)s, %(line)s, %(items)s::bigint[], %(score)s, %(decision)s, %(reason)s)
RETURNING id
"""
_CURRENT = """
SELECT c.statement_line_id, c.company_id, s.date, s.amount, s.payment_ref, c.decision, c.score,
       (SELECT string_agg(j.move_name, ', ' ORDER BY j.move_name)
          FROM ipai_gold_erp.journal_items j WHERE j.line_id = ANY (c.move_line_ids))
         AS matched_with,
       array_to_string(c.move_line_ids, ', ') AS move_line_ids, c.reason, c.decided_at,
       c.decided_by, c.decision_id
  FROM ipai_platinum_erp.reconciliation_current c
  JOIN ipai_gold_erp.bank_statement_lines s USING (statement_line_id)
 WHERE (%(companies)s::bigint[] IS NULL OR c.company_id = ANY(%(companies)s))
 ORDER BY c.decided_at DESC, c.statement_line_id
"""

Verdict = Literal["accepted", "rejected"]


@dataclass(frozen=True)
class Match:
    """What a decision is about: one statement line and the open item(s) it would settle."""

    company_id: int
    statement_line_id: int
    move_line_ids: tuple[int, ...]
    score: float

    @classmethod
    def of(cls, proposal: Proposal) -> Match:
        line = proposal.line
        return cls(line.company_id, line.id, proposal.move_line_ids, proposal.score)


@dataclass(frozen=True)
class RecordedDecision:
    decision_id: str
    audit_id: str
    match: Match
    decision: Verdict


def accept(
    session: ScopedSession, proposal: Proposal | Match, *, reason: str = "", app: str = ""
) -> RecordedDecision:
    """Accept the match: the line counts as reconciled and its items as taken."""
    return decide(session, _match(proposal), "accepted", reason=reason, app=app)


def reject(
    session: ScopedSession, proposal: Proposal | Match, *, reason: str = "", app: str = ""
) -> RecordedDecision:
    """Reject the match: it is not proposed again (an accepted one is withdrawn)."""
    return decide(session, _match(proposal), "rejected", reason=reason, app=app)


def decide(
    session: ScopedSession, match: Match, decision: Verdict, *, reason: str = "", app: str = ""
) -> RecordedDecision:
    """Record `decision` about `match` and audit it, in the session's transaction. Accepting a
    line or an item that an accepted decision already holds, or rejecting a line matched with
    other items, is a `ReconciliationConflict`."""
    session.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, match.company_id])
    _refuse_conflict(session, match, decision)
    params = {
        "company": match.company_id,
        "line": match.statement_line_id,
        "items": list(match.move_line_ids),
        "score": round(match.score, 3),
        "decision": decision,
        "reason": reason,
    }
    decision_id = str(session.scalar(_INSERT, params))
    details = {
        "statement_line_id": match.statement_line_id,
        "move_line_ids": list(match.move_line_ids),
        "company_id": match.company_id,
        "score": round(match.score, 3),
        "reason": reason,
    } | ({"app": app} if app else {})
    audit_id = session.scalar(
        "SELECT public.ipai_audit(%s, %s, %s::uuid, %s, %s::jsonb)",
        [AUDIT_EVENT_TYPE, AUDIT_TARGET, decision_id, f"reconciliation_{decision}", _json(details)],
    )
    return RecordedDecision(decision_id, str(audit_id), match, decision)


def current_decisions(
    session: ScopedSession, *, companies: Sequence[int] | None = None
) -> pl.DataFrame:
    """The current decision per statement line, newest first, with what the line was matched
    with (`matched_with`: the documents' numbers; `move_line_ids` as text, so the frame exports
    to CSV)."""
    return session.query(_CURRENT, {"companies": company_filter(companies)})


def _refuse_conflict(session: ScopedSession, match: Match, decision: Verdict) -> None:
    """Accepting needs the line and its items free; rejecting a line that is matched is only
    possible for the very match it holds (which withdraws it)."""
    params = {
        "company": match.company_id,
        "line": match.statement_line_id,
        "items": list(match.move_line_ids),
    }
    for line, items in session.query(_CLAIMED, params).iter_rows():
        held = tuple(sorted(items))
        if line == match.statement_line_id and held == match.move_line_ids:
            if decision == "rejected":
                continue
            problem = f"bank statement line `{line}` is already matched with these items"
        elif line == match.statement_line_id:
            problem = f"bank statement line `{line}` is already matched with items `{list(held)}`"
        elif decision == "accepted":
            taken = sorted(set(held) & set(match.move_line_ids))
            problem = f"open item(s) `{taken}` already settle bank statement line `{line}`"
        else:
            continue
        raise ReconciliationConflict(
            f"{problem} by an accepted decision; reject that match first if it was wrong, then "
            "reload the proposals",
            statement_line_id=match.statement_line_id,
            move_line_ids=match.move_line_ids,
        )


def _match(proposal: Proposal | Match) -> Match:
    return proposal if isinstance(proposal, Match) else Match.of(proposal)


def _json(document: dict[str, object]) -> str:
    return json.dumps(document, default=str)
