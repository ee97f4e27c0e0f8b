"""Accounting for every word of a question.

A plan consumes words: the dataset's name, the measures and dimensions it uses, the values it
filters on, the time, ranking and threshold phrases. What is left must be a stop word
(`text.STOP_WORDS`) or one of `FILLER_WORDS` — words that ask for nothing ("show", "please",
"figures"). Any other word left over is part of the request the plan does not answer ("by
bucket", "days to pay"), and the planner says so instead of answering a different question.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ipai_core.genie.text import Token

_FILLER_TEXT = """
show shows showing list listing give giving tell display see view find get fetch pull want need
like know look looking let lets please thanks thank hi hey hello ok okay quick quickly just
currently current now right exactly roughly approximately around actually really kindly
data info information details detail report reporting breakdown break split broken out
figures figure numbers stats statistics metrics metric kpi kpis summary summarise summarize
overview picture status values amount amounts level levels
which who whom whose where
total totals overall altogether combined whole entire grand sum
happen happened going stand standing doing looks looked
rank ranked ranking sorted sort order ordered descending ascending
biggest largest highest most top bottom lowest least smallest fewest best worst
number count value
get got gets getting give gave given gives make makes making take took taken takes bring brings
brought deliver delivered delivers go goes went gone come came put keep kept issued
still yet already ever also too only even again both either together whole group wide
consolidated pooled times made earn earned starting beginning more less
"""
FILLER_WORDS = frozenset(_FILLER_TEXT.split())


# A unit named after a number is consumed by a measure that is counted in it ("lead time in
# hours" of `avg_lead_time_hours`): the unit's word and the stems that mark it in a name or label.
UNITS = {
    "hours": ("hour", "(h)"),
    "hour": ("hour", "(h)"),
    "hrs": ("hour", "(h)"),
    "minutes": ("minute", "(min)"),
    "mins": ("minute", "(min)"),
    "days": ("day",),
    "percent": ("rate", "share", "margin", "ratio", "%"),
    "percentage": ("rate", "share", "margin", "ratio", "%"),
}


def unconsumed(tokens: Sequence[Token], consumed: Iterable[int]) -> list[Token]:
    """The question's meaningful tokens that no part of the plan took."""
    taken = set(consumed)
    return [t for t in tokens if t.index not in taken and not t.stop and t.raw not in FILLER_WORDS]


def unit_positions(tokens: Sequence[Token], measure_texts: Sequence[str]) -> set[int]:
    """The unit words ("in hours") that the chosen measures' names or labels are counted in."""
    texts = " ".join(measure_texts).lower()
    return {t.index for t in tokens if t.raw in UNITS and any(m in texts for m in UNITS[t.raw])}


def positions_in(tokens: Sequence[Token], spans: Iterable[tuple[int, int]]) -> set[int]:
    """The tokens inside character spans (of time, ranking or threshold phrases)."""
    spans = list(spans)
    return {t.index for t in tokens if any(s <= t.start < e for s, e in spans)}


def phrases_of(tokens: Sequence[Token]) -> list[str]:
    """Neighbouring tokens joined into phrases: [days, to, pay] → ["days to pay"]."""
    phrases: list[list[Token]] = []
    for token in tokens:
        if phrases and token.index - phrases[-1][-1].index <= 2:
            phrases[-1].append(token)
        else:
            phrases.append([token])
    return [" ".join(t.raw for t in group) for group in phrases]
