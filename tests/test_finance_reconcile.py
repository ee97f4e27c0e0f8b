"""The bank reconciliation helper against the demo ERP loaded through the real Odoo connector:
which matches it proposes (exact references on top, fee-deducted lower and explained, split
payments found, bank charges left alone), and how accept/reject decisions are stored, audited and
refused by the database for users who may not decide."""

from __future__ import annotations

import re
import secrets
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from ipai_core import AccessDenied, Lakehouse, Principal
from ipai_core.errors import ReconciliationConflict
from ipai_core.finance import bank, decisions, reconcile
from ipai_core.finance.explain import Explanation, explain
from ipai_core.finance.reconcile import OpenItem, Plan, Proposal, StatementLine
from ipai_core.llm.provider import LlmProvider
from tests.support.openai_standin import OpenAIStandIn, Reply
from tests.support.users import new_user

NOISE = {"MONTHLY ACCOUNT FEE", "INTEREST CREDIT", "OUTWARD TT CHARGE"}
EXACT_FLOOR = 0.93  # an exact amount, named reference and the recognised partner


@pytest.fixture(scope="module")
def lake(demo_lakehouse: Lakehouse) -> Lakehouse:
    return demo_lakehouse


def sign_in(lake: Lakehouse, roles: list[str]) -> Principal:
    return lake.authenticate(new_user(lake, roles).token)


def scoped(lake: Lakehouse, roles: list[str], companies: list[int]) -> Principal:
    """A user whose token limits finance data to `companies` (app_metadata.company_ids)."""
    token = lake.tokens.issue(
        user_id=str(uuid.uuid4()),
        email=f"scoped-{secrets.token_hex(4)}@example.test",
        roles=roles,
        extra_claims={"app_metadata": {"roles": roles, "company_ids": companies}},
    )
    return lake.authenticate(token)


@pytest.fixture(scope="module")
def admin(lake: Lakehouse) -> Principal:
    return sign_in(lake, ["admin"])


@pytest.fixture(scope="module")
def inputs(lake: Lakehouse, admin: Principal) -> tuple[list[StatementLine], list[OpenItem]]:
    with lake.session(admin) as s:
        return bank.statement_lines(s), bank.open_items(s)


@pytest.fixture(scope="module")
def fresh_plan(inputs: tuple[list[StatementLine], list[OpenItem]]) -> Plan:
    """Proposals as if nothing had been decided yet (other tests record decisions)."""
    return reconcile.plan(*inputs)


def named(line: StatementLine, items: list[OpenItem]) -> list[OpenItem]:
    """Open items of the line's company whose number appears as such in the bank's text."""
    words = set(re.split(r"\s+", line.text))
    return [i for i in items if i.company_id == line.company_id and i.move_name in words]


def proposal(plan: Plan, line: StatementLine) -> Proposal:
    found = plan.for_line(line.id)
    assert found is not None, f"no proposal for {line}"
    return found


def test_demo_has_unreconciled_lines_of_every_kind(
    inputs: tuple[list[StatementLine], list[OpenItem]],
) -> None:
    lines, items = inputs
    assert len(lines) >= 40 and {x.company_id for x in lines} == {1, 2}
    assert sum(x.payment_ref in NOISE for x in lines) >= 8
    assert any(x.partner_id is None and x.payment_ref not in NOISE for x in lines)
    assert any(x.amount < 0 and x.payment_ref not in NOISE for x in lines)  # vendor payments
    assert len(items) > 100


def test_exact_references_are_proposed_with_the_top_scores(
    inputs: tuple[list[StatementLine], list[OpenItem]], fresh_plan: Plan
) -> None:
    lines, items = inputs
    exact = [
        (line, hits[0])
        for line in lines
        if len(hits := named(line, items)) == 1
        and hits[0].expected == line.amount
        and hits[0].partner_id == line.partner_id
    ]
    assert len(exact) >= 20
    for line, item in exact:
        found = proposal(fresh_plan, line)
        assert found.move_line_ids == (item.line_id,), line
        assert found.score >= EXACT_FLOOR and found.signals.amount == 1.0
        assert found.difference == 0 and f"names {item.move_name}" in " ".join(found.reasons)


def test_fee_deducted_transfers_score_lower_and_say_by_how_much(
    inputs: tuple[list[StatementLine], list[OpenItem]], fresh_plan: Plan
) -> None:
    lines, items = inputs
    fees = [
        (line, hits[0])
        for line in lines
        if len(hits := named(line, items)) == 1
        and 0 < abs(line.amount - hits[0].expected) <= Decimal(50)
    ]
    assert len(fees) >= 3
    for line, item in fees:
        found = proposal(fresh_plan, line)
        assert found.move_line_ids == (item.line_id,)
        assert 0.5 <= found.score < EXACT_FLOOR
        gap = abs(abs(line.amount) - abs(item.expected))
        assert f"{gap:,.2f}" in found.reasons[0] and "bank" in found.reasons[0]


def test_split_payments_propose_several_items_adding_up(fresh_plan: Plan) -> None:
    splits = [p for p in fresh_plan.proposals if len(p.items) > 1]
    assert splits
    for p in splits:
        assert sum(i.expected for i in p.items) == p.line.amount
        assert len({i.partner_id for i in p.items}) == 1
        assert "add up exactly" in p.reasons[0]


def test_mangled_references_still_find_the_invoice(fresh_plan: Plan) -> None:
    fuzzy = [p for p in fresh_plan.proposals if 0 < p.signals.reference < 1.0]
    assert fuzzy
    for p in fuzzy:
        assert p.signals.amount > 0 and "similar" in p.reasons[1]
        assert p.line.partner_id in (None, p.items[0].partner_id)


def test_bank_charges_and_interest_get_no_proposal(
    inputs: tuple[list[StatementLine], list[OpenItem]], fresh_plan: Plan
) -> None:
    noise = [x for x in inputs[0] if x.payment_ref in NOISE]
    assert noise
    unmatched = {x.id for x in fresh_plan.unmatched}
    assert all(x.id in unmatched and fresh_plan.for_line(x.id) is None for x in noise)


def test_every_proposal_is_one_to_one_and_scored(fresh_plan: Plan) -> None:
    items = [i for p in fresh_plan.proposals for i in p.move_line_ids]
    assert len(items) == len(set(items))
    assert len({p.line.id for p in fresh_plan.proposals}) == len(fresh_plan.proposals)
    assert all(0.5 <= p.score <= 1 and len(p.reasons) == 4 for p in fresh_plan.proposals)


def audit_rows(lake: Lakehouse, decision_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(lake.owner_url) as owner:
        return owner.execute(
            "SELECT user_id::text, event_type, action, details FROM public.ipai_audit_log"
            " WHERE entity_type = 'reconciliation_decision' AND entity_id = %s",
            [decision_id],
        ).fetchall()


def test_accept_and_reject_persist_are_audited_and_shape_the_next_plan(lake: Lakehouse) -> None:
    cfo = sign_in(lake, ["finance"])
    with lake.session(cfo) as s:
        first, second = bank.propose(s).proposals[:2]
        accepted = decisions.accept(s, first, reason="matches the remittance advice")
        rejected = decisions.reject(s, second)

    with lake.session(cfo) as s:  # a new session: both decisions are there
        after = bank.propose(s)
        current = decisions.current_decisions(s)
    assert after.for_line(first.line.id) is None  # matched: out of the proposals
    assert not set(first.move_line_ids) & {i for p in after.proposals for i in p.move_line_ids}
    again = after.for_line(second.line.id)
    assert again is None or again.move_line_ids != second.move_line_ids
    by_line = {r["statement_line_id"]: r for r in current.to_dicts()}
    assert by_line[first.line.id]["decision"] == "accepted"
    assert by_line[first.line.id]["matched_with"] == ", ".join(
        sorted(i.move_name for i in first.items)
    )
    assert by_line[second.line.id]["decision"] == "rejected"
    assert str(by_line[first.line.id]["decided_by"]) == cfo.user_id

    [(user_id, event, action, details)] = audit_rows(lake, accepted.decision_id)
    assert (user_id, event, action) == (cfo.user_id, "app", "reconciliation_accepted")
    assert details["statement_line_id"] == first.line.id
    assert details["reason"] == "matches the remittance advice"
    assert audit_rows(lake, rejected.decision_id)[0][2] == "reconciliation_rejected"

    with lake.session(cfo) as s:  # rejecting the accepted match withdraws it
        decisions.reject(s, first, reason="wrong customer")
        withdrawn = bank.propose(s)
    assert first.line.id in {x.id for x in withdrawn.unmatched} | {
        p.line.id for p in withdrawn.proposals
    }
    back = withdrawn.for_line(first.line.id)
    assert back is None or back.move_line_ids != first.move_line_ids


def test_a_matched_line_or_item_cannot_be_accepted_twice(lake: Lakehouse) -> None:
    cfo = sign_in(lake, ["finance"])
    with lake.session(cfo) as s:
        target = bank.propose(s).proposals[-1]
        decisions.accept(s, target)
    with pytest.raises(ReconciliationConflict), lake.session(cfo) as s:
        decisions.accept(s, target)
    other = decisions.Match(target.line.company_id, -1, target.move_line_ids, 0.9)
    with pytest.raises(ReconciliationConflict), lake.session(cfo) as s:
        decisions.decide(s, other, "accepted")
    with lake.session(cfo) as s:
        assert decisions.current_decisions(s).height >= 1


def test_users_without_the_finance_role_are_refused_by_the_database(
    lake: Lakehouse, admin: Principal, fresh_plan: Plan
) -> None:
    with lake.session(admin) as s:  # other tests (and apps) decide some lines: take an open one
        current = s.query(
            "SELECT statement_line_id, move_line_ids, decision"
            " FROM ipai_platinum_erp.reconciliation_current"
        ).to_dicts()
    decided = {row["statement_line_id"] for row in current}
    held = {i for row in current if row["decision"] == "accepted" for i in row["move_line_ids"]}
    undecided = next(
        p
        for p in fresh_plan.proposals
        if p.line.id not in decided and not held & set(p.move_line_ids)
    )
    match = decisions.Match.of(undecided)
    for roles in (["analyst"], ["auditor"]):
        user = sign_in(lake, roles)
        with pytest.raises(AccessDenied), lake.session(user) as s:
            decisions.accept(s, match)
    auditor = sign_in(lake, ["auditor"])
    with lake.session(auditor) as s:  # auditors read the decisions, they do not take them
        assert s.scalar("SELECT count(*) FROM ipai_platinum_erp.reconciliation_decisions") > 0
    analyst = sign_in(lake, ["analyst"])
    with lake.session(analyst) as s:
        assert bank.propose(s).proposals == ()
        assert s.scalar("SELECT count(*) FROM ipai_platinum_erp.reconciliation_decisions") == 0


def test_a_finance_user_limited_to_one_company_sees_and_decides_only_there(
    lake: Lakehouse, fresh_plan: Plan
) -> None:
    user = scoped(lake, ["finance"], [2])
    with lake.session(user) as s:
        mine = bank.propose(s)
    assert mine.proposals and {p.line.company_id for p in mine.proposals} == {2}
    elsewhere = next(p for p in fresh_plan.proposals if p.line.company_id == 1)
    with pytest.raises(AccessDenied), lake.session(user) as s:
        decisions.accept(s, elsewhere)
    forged = decisions.Match(2, elsewhere.line.id, elsewhere.move_line_ids, 0.9)
    with pytest.raises(AccessDenied), lake.session(user) as s:  # company 1's line, claimed as 2
        decisions.decide(s, forged, "accepted")


def test_decision_history_cannot_be_changed_even_by_the_owner(lake: Lakehouse) -> None:
    with psycopg.connect(lake.owner_url) as owner:
        for statement in (
            "UPDATE ipai_platinum_erp.reconciliation_decisions SET decision = 'accepted'",
            "DELETE FROM ipai_platinum_erp.reconciliation_decisions",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                owner.execute(statement)
            owner.rollback()


def test_explanations_come_from_the_rules_or_the_llm(fresh_plan: Plan) -> None:
    fee = next(p for p in fresh_plan.proposals if p.difference != 0)
    rules = explain(fee, provider=None)
    assert rules.source == "rules" and rules.text == " ".join(fee.reasons)
    with OpenAIStandIn() as llm:
        provider = LlmProvider(model=llm.model, base_url=llm.base_url, api_key="k", max_retries=0)
        llm.reply(Reply(content="The customer paid the invoice less a small bank fee."))
        worded = explain(fee, provider=provider)
        assert worded == Explanation("The customer paid the invoice less a small bank fee.", "llm")
        prompt = llm.chat_requests[0].prompt_text
        assert str(fee.line.amount) in prompt and fee.items[0].move_name in prompt
        llm.reply(Reply(status=500, error="overloaded"))
        fallback = explain(fee, provider=provider)
        assert fallback.source == "rules" and fallback.text == rules.text and fallback.note
        provider.close()
