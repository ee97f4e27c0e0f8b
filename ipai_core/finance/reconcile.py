"""Bank reconciliation planning: which open invoice or bill each unmatched bank statement line
probably pays. Pure — statement lines, open items and the decision history in, proposals out; no
database, no clock.

A candidate is an open item (or, for one transfer paying several invoices, a set of two or three
open items of one partner whose amounts add up exactly) in the line's company and direction
(money in pays receivables, money out pays payables). Four signals, each in [0, 1], score it:

    amount     1 when equal; any difference costs at least 0.2 (0.8 down to 0.5 at the tolerance,
               the larger of 50.00 and 2 %, which absorbs a bank fee taken off or added);
               beyond the tolerance the item is no candidate
    reference  the invoice number or the document's own reference (a customer's PO, a vendor's
               invoice number) found in the bank's text: 1 when it appears as is; otherwise the
               similarity s of the best-matching stretch of the text (difflib), scaled so that the
               ~70 % two numbers of one series share anyway counts for nothing: 0.9·(s - 0.7)/0.3
               (INV/2026/00244 and INV/2026/00185 are 75 % alike; a mangled INV 2026 244 is 91 %)
    partner    1 for the partner Odoo recognised on the line; without one, the similarity of the
               name the bank gives; 0 for another partner, who is no candidate unless the
               reference names the item exactly
    date       1 within a week of the due date, falling slowly after; low before the invoice date

score = 0.45·amount + 0.30·reference + 0.15·partner + 0.10·date. A candidate needs evidence beyond
the amount (a reference at least 80 % alike, or a partner ≥ 0.8) and a score of at least 0.5, so
a bank charge or interest line gets no proposal. Candidates are then assigned one-to-one, best
score first: a line gets at most one proposal and an open item serves at most one line.

Decisions shape the plan: a line whose current decision is `accepted` is matched and left out,
and so are the open items it took; a match that was `rejected` (and not accepted since) is not
proposed again, though the line may get another one.

difflib is enough here (tens of lines against a few hundred items, and the fuzzy comparison only
runs for the few items the amount leaves); nothing to add to the dependencies.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Literal

WEIGHTS = {"amount": 0.45, "reference": 0.30, "partner": 0.15, "date": 0.10}
MIN_SCORE = 0.5
MIN_SIMILARITY = 0.8  # a reference this alike is evidence
SERIES_SIMILARITY = 0.7  # what two numbers of one series share anyway
MIN_PARTNER = 0.8
FEE_ALLOWANCE = Decimal("50.00")
FEE_SHARE = Decimal("0.02")
MAX_SPLIT = 3
_CENT = Decimal("0.01")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")

Decision = Literal["accepted", "rejected"]


@dataclass(frozen=True)
class StatementLine:
    """A bank statement line not yet matched; `amount` is positive for money in."""

    id: int
    company_id: int
    date: dt.date
    amount: Decimal
    payment_ref: str = ""
    ref: str = ""
    partner_id: int | None = None
    partner_name: str = ""  # the partner Odoo recognised
    bank_partner_name: str = ""  # the counterparty as the bank's feed names it

    @property
    def text(self) -> str:
        """What the bank says: its label, and the reference when it adds something."""
        extra = self.ref if self.ref and self.ref not in self.payment_ref else ""
        return " ".join(t for t in (self.payment_ref, extra) if t)


@dataclass(frozen=True)
class OpenItem:
    """An open receivable or payable journal item; `open_amount` is what is still owed."""

    line_id: int
    move_id: int
    move_name: str
    company_id: int
    kind: Literal["receivable", "payable"]
    date: dt.date
    due_date: dt.date
    open_amount: Decimal
    partner_id: int | None = None
    partner_name: str = ""
    ref: str = ""

    @property
    def expected(self) -> Decimal:
        """The statement amount that settles it: money in for a receivable, out for a payable."""
        return self.open_amount if self.kind == "receivable" else -self.open_amount


@dataclass(frozen=True)
class Signals:
    amount: float
    reference: float
    partner: float
    date: float

    @property
    def score(self) -> float:
        values = {"amount": self.amount, "reference": self.reference}
        values |= {"partner": self.partner, "date": self.date}
        total = sum(WEIGHTS[name] * value for name, value in values.items())
        return round(min(max(total, 0.0), 1.0), 3)


@dataclass(frozen=True)
class Proposal:
    """A proposed match: a statement line and the open item(s) it pays, with a score in [0, 1]
    and the reasons in plain words."""

    line: StatementLine
    items: tuple[OpenItem, ...]
    signals: Signals
    reasons: tuple[str, ...]

    @property
    def score(self) -> float:
        return self.signals.score

    @property
    def statement_line_id(self) -> int:
        return self.line.id

    @property
    def move_line_ids(self) -> tuple[int, ...]:
        return tuple(sorted(i.line_id for i in self.items))

    @property
    def difference(self) -> Decimal:
        """Statement amount minus what the items expect (negative: less arrived than owed)."""
        return self.line.amount - sum((i.expected for i in self.items), Decimal(0))


@dataclass(frozen=True)
class DecisionRecord:
    statement_line_id: int
    move_line_ids: tuple[int, ...]
    decision: Decision


@dataclass(frozen=True)
class History:
    """The decision history folded into what planning needs."""

    accepted_lines: frozenset[int] = frozenset()
    taken_items: frozenset[int] = frozenset()
    rejected: frozenset[tuple[int, tuple[int, ...]]] = frozenset()

    @classmethod
    def fold(cls, decisions: Iterable[DecisionRecord]) -> History:
        """`decisions` oldest first. The newest decision per line says whether it is matched;
        the newest decision per (line, items) pair says whether that match is rejected."""
        per_line: dict[int, DecisionRecord] = {}
        per_pair: dict[tuple[int, tuple[int, ...]], Decision] = {}
        for d in decisions:
            per_line[d.statement_line_id] = d
            per_pair[(d.statement_line_id, tuple(sorted(d.move_line_ids)))] = d.decision
        accepted = [d for d in per_line.values() if d.decision == "accepted"]
        return cls(
            accepted_lines=frozenset(d.statement_line_id for d in accepted),
            taken_items=frozenset(i for d in accepted for i in d.move_line_ids),
            rejected=frozenset(p for p, verdict in per_pair.items() if verdict == "rejected"),
        )


@dataclass(frozen=True)
class Plan:
    proposals: tuple[Proposal, ...]
    unmatched: tuple[StatementLine, ...] = ()

    def for_line(self, statement_line_id: int) -> Proposal | None:
        return next((p for p in self.proposals if p.line.id == statement_line_id), None)


def plan(
    lines: Sequence[StatementLine], items: Sequence[OpenItem], history: History | None = None
) -> Plan:
    """Propose at most one match per statement line, best scores first, one-to-one."""
    history = history or History()
    waiting = [x for x in lines if x.id not in history.accepted_lines]
    free = [i for i in items if i.line_id not in history.taken_items]
    candidates = [
        c
        for line in waiting
        for c in _candidates(line, free)
        if (line.id, c.move_line_ids) not in history.rejected
    ]
    candidates.sort(key=lambda p: (-p.score, p.line.id, p.move_line_ids))
    chosen: list[Proposal] = []
    used_lines: set[int] = set()
    used_items: set[int] = set()
    for proposal in candidates:
        ids = set(proposal.move_line_ids)
        if proposal.line.id in used_lines or ids & used_items:
            continue
        chosen.append(proposal)
        used_lines.add(proposal.line.id)
        used_items |= ids
    chosen.sort(key=lambda p: (p.line.date, p.line.id))
    unmatched = tuple(x for x in waiting if x.id not in used_lines)
    return Plan(tuple(chosen), unmatched)


# -- candidates --------------------------------------------------------------------------------


def _candidates(line: StatementLine, items: Sequence[OpenItem]) -> list[Proposal]:
    mine = [
        i
        for i in items
        if i.company_id == line.company_id
        and i.expected != 0
        and (i.expected > 0) == (line.amount > 0)
    ]
    found = [p for i in mine if (p := _proposal(line, (i,))) is not None]
    if not any(p.difference == 0 for p in found):
        found += _splits(line, mine)
    return found


def _splits(line: StatementLine, items: Sequence[OpenItem]) -> list[Proposal]:
    """Two or three open items of one partner that add up exactly to the line's amount."""
    related = [i for i in items if _partner_signal(line, i) >= MIN_PARTNER]
    by_partner: dict[int | None, list[OpenItem]] = {}
    for item in related:
        by_partner.setdefault(item.partner_id, []).append(item)
    found = []
    for group in by_partner.values():
        for size in range(2, MAX_SPLIT + 1):
            for combo in itertools.combinations(group, size):
                if sum((i.expected for i in combo), Decimal(0)) == line.amount:
                    proposal = _proposal(line, combo)
                    if proposal is not None:
                        found.append(proposal)
    return found


def _proposal(line: StatementLine, items: tuple[OpenItem, ...]) -> Proposal | None:
    expected = sum((i.expected for i in items), Decimal(0))
    amount = _amount_signal(line.amount, expected)
    if amount == 0:
        return None
    similarity = _mean(_reference_similarity(line.text, i) for i in items)
    partner = _mean(_partner_signal(line, i) for i in items)
    if similarity < MIN_SIMILARITY and partner < MIN_PARTNER:
        return None
    if line.partner_id is not None and partner < 1.0 and similarity < 1.0:
        return None  # another partner than the one recognised, and no exact reference
    reference = _scaled(similarity)
    signals = Signals(amount, reference, partner, _mean(_date_signal(line.date, i) for i in items))
    if signals.score < MIN_SCORE:
        return None
    return Proposal(line, items, signals, _reasons(line, items, signals, similarity))


# -- signals -----------------------------------------------------------------------------------


def _amount_signal(amount: Decimal, expected: Decimal) -> float:
    difference = abs(amount - expected)
    if difference == 0:
        return 1.0
    tolerance = max(FEE_ALLOWANCE, abs(expected) * FEE_SHARE)
    if difference > tolerance:
        return 0.0
    return round(0.8 - 0.3 * float(difference / tolerance), 3)


def _scaled(similarity: float) -> float:
    if similarity >= 1.0:
        return 1.0
    share = (similarity - SERIES_SIMILARITY) / (1.0 - SERIES_SIMILARITY)
    return round(0.9 * max(0.0, share), 3)


def _reference_similarity(text: str, item: OpenItem) -> float:
    haystack = _normal(text)
    targets = [_normal(t) for t in (item.move_name, item.ref) if _normal(t)]
    if not haystack or not targets:
        return 0.0
    return max(_partial_similarity(t, haystack) for t in targets)


def _partner_signal(line: StatementLine, item: OpenItem) -> float:
    if line.partner_id is not None:
        return 1.0 if line.partner_id == item.partner_id else 0.0
    bank_name, name = _normal(line.bank_partner_name), _normal(item.partner_name)
    if not bank_name or not name:
        return 0.0
    return _partial_similarity(bank_name, name)


def _date_signal(day: dt.date, item: OpenItem) -> float:
    if (day - item.date).days < -3:
        return 0.2  # paid before the invoice existed: possible (a deposit) but unlikely
    distance = abs((day - item.due_date).days)
    return 1.0 if distance <= 7 else round(max(0.3, 1.0 - (distance - 7) / 120), 3)


def _normal(text: str | None) -> str:
    """Upper-case letters and digits only: `inv/2026/00412` → `INV202600412`."""
    return _NOT_ALNUM.sub("", (text or "").upper())


@lru_cache(maxsize=8192)
def _partial_similarity(needle: str, haystack: str) -> float:
    """1.0 when `needle` occurs in `haystack`; else the best similarity of `needle` with any
    stretch of `haystack` of its length (or of `haystack` with `needle`, when shorter)."""
    short, long_ = sorted((needle, haystack), key=len)
    if short in long_:
        return 1.0
    width = len(short)
    best = 0.0
    for start in range(max(1, len(long_) - width + 1)):
        window = long_[start : start + width + 2]
        best = max(best, SequenceMatcher(None, short, window, autojunk=False).ratio())
    return round(best, 3)


def _mean(values: Iterable[float]) -> float:
    numbers = list(values)
    return round(sum(numbers) / len(numbers), 3) if numbers else 0.0


# -- reasons -----------------------------------------------------------------------------------


def _reasons(
    line: StatementLine, items: tuple[OpenItem, ...], s: Signals, similarity: float
) -> tuple[str, ...]:
    return (
        _amount_reason(line, items),
        _reference_reason(line, items, similarity),
        _sentence(_partner_reason(line, items, s.partner)),
        _date_reason(line, items),
    )


def _sentence(text: str) -> str:
    """Ends with one full stop (partner names such as "Aurora Retail Inc." carry their own)."""
    return text if text.endswith(".") else f"{text}."


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT):,}"


def _names(items: tuple[OpenItem, ...]) -> str:
    return ", ".join(i.move_name for i in items)


def _amount_reason(line: StatementLine, items: tuple[OpenItem, ...]) -> str:
    expected = sum((i.expected for i in items), Decimal(0))
    shown = _money(abs(line.amount))
    if len(items) > 1 and line.amount == expected:
        return f"The {len(items)} open items {_names(items)} add up exactly to {shown}."
    if line.amount == expected:
        return f"The amount {shown} equals what is open on {_names(items)}."
    gap = abs(line.amount) - abs(expected)
    share = abs(gap) / abs(expected) * 100
    owed = f"{_names(items)} ({_money(abs(expected))} open)"
    if gap < 0:
        return (
            f"The bank line is {_money(-gap)} less than {owed}, {share:.1f}%: "
            "probably a bank fee taken off the transfer."
        )
    return (
        f"The bank line is {_money(gap)} more than {owed}, {share:.1f}%: "
        "probably a bank charge added to the transfer."
    )


def _reference_reason(line: StatementLine, items: tuple[OpenItem, ...], similarity: float) -> str:
    if not line.text:
        return "The bank line has no reference."
    said = f"The bank's reference “{line.text}”"
    if similarity >= 1.0:
        return f"{said} names {_names(items)}."
    if similarity >= MIN_SIMILARITY:
        return f"{said} resembles {_names(items)} ({similarity:.0%} similar)."
    return f"{said} does not mention {_names(items)}."


def _partner_reason(line: StatementLine, items: tuple[OpenItem, ...], signal: float) -> str:
    partner = items[0].partner_name or "the item's partner"
    if line.partner_id is not None:
        recognised = line.partner_name or "another partner"
        return (
            f"Same partner: {partner}" if signal >= 1.0 else f"Paid by {recognised}, not {partner}"
        )
    if not line.bank_partner_name:
        return "The bank line names no partner"
    if signal >= MIN_PARTNER:
        return f"No partner recognised, but the bank's “{line.bank_partner_name}” fits {partner}"
    return f"No partner recognised; the bank's “{line.bank_partner_name}” is not {partner}"


def _date_reason(line: StatementLine, items: tuple[OpenItem, ...]) -> str:
    due = max(i.due_date for i in items)
    days = (line.date - due).days
    if days == 0:
        return f"Paid on the due date, {due.isoformat()}."
    if days > 0:
        return f"Paid {days} day(s) after the due date, {due.isoformat()}."
    return f"Paid {-days} day(s) before the due date, {due.isoformat()}."
