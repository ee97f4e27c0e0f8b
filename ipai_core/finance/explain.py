"""Why a match is proposed, in words. The rules' own reasons (amount, reference, partner, date)
are the explanation; with an LLM provider configured (and the app's `llm_explanations` flag on),
the model rephrases those facts as a short paragraph for the accountant. It is given only the
facts the planner used and told to add none; if it fails, the rules' reasons are shown with a
note saying why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from ipai_core.errors import LlmError
from ipai_core.finance.reconcile import Proposal
from ipai_core.llm.provider import LlmProvider
from ipai_core.settings import Settings

SYSTEM_PROMPT = (
    "You explain to an accountant why a bank statement line is proposed as the payment of an "
    "open invoice or bill. Write two or three plain sentences. Use only the facts given; do not "
    "invent numbers, names or dates. Say clearly if the amounts differ and by how much."
)
MAX_TOKENS = 200


@dataclass(frozen=True)
class Explanation:
    text: str
    source: Literal["rules", "llm"]
    note: str = ""  # why the rules' reasons are shown although an LLM was asked


def provider_for(settings: Settings, *, enabled: bool) -> LlmProvider | None:
    """The LLM provider to explain with: None when the feature is off or no LLM is configured."""
    return LlmProvider.from_settings(settings) if enabled else None


def explain(proposal: Proposal, *, provider: LlmProvider | None) -> Explanation:
    """The LLM's paragraph when a provider is given and answers; the rules' reasons otherwise."""
    rules = " ".join(proposal.reasons)
    if provider is None:
        return Explanation(rules, "rules")
    try:
        completion = provider.complete(_messages(proposal), max_tokens=MAX_TOKENS)
    except LlmError as exc:
        note = f"The language model could not explain this match ({exc.reason})."
        return Explanation(rules, "rules", note)
    text = completion.text.strip()
    if not text:
        return Explanation(rules, "rules", "The language model answered nothing.")
    return Explanation(text, "llm")


def facts(proposal: Proposal) -> dict[str, Any]:
    """What the model is told: the bank line, the proposed items, the signals and reasons."""
    line = proposal.line
    return {
        "bank_line": {
            "date": line.date.isoformat(),
            "amount": str(line.amount),
            "reference": line.text,
            "partner": line.partner_name or line.bank_partner_name or None,
        },
        "proposed_items": [
            {
                "number": i.move_name,
                "kind": i.kind,
                "partner": i.partner_name,
                "open_amount": str(i.open_amount),
                "due_date": i.due_date.isoformat(),
            }
            for i in proposal.items
        ],
        "difference": str(proposal.difference),
        "score": proposal.score,
        "signals": {
            "amount": proposal.signals.amount,
            "reference": proposal.signals.reference,
            "partner": proposal.signals.partner,
            "date": proposal.signals.date,
        },
        "reasons": list(proposal.reasons),
    }


def _messages(proposal: Proposal) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": json.dumps(facts(proposal), ensure_ascii=False)},
    ]
