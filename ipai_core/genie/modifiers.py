"""Ranking and threshold phrases: "top 5", "bottom 3", "the highest", "most"; "more than 10000",
"above 5%", "at most 2". Each parser returns what it found and the character span it used."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ipai_core.genie.text import NUMBER_WORD, number

_DESCENDING = {"top", "best", "highest", "largest", "biggest", "most", "greatest", "leading"}
_DESCENDING |= {"slowest", "longest", "oldest"}  # of durations: the largest number first
ASCENDING_WORDS = frozenset(
    {"bottom", "worst", "lowest", "smallest", "least", "fewest", "fastest", "quickest", "shortest"}
)
_ASCENDING = ASCENDING_WORDS
_N = r"(?P<n>\d{1,4}|" + NUMBER_WORD + r")"
_RANK_WORD = "|".join(sorted(_DESCENDING | _ASCENDING))
RANKING_WORDS = frozenset(_DESCENDING | _ASCENDING)
DEFAULT_TOP = 10


@dataclass(frozen=True)
class Ranking:
    """Sort the answer by a measure and keep `limit` rows; `explicit` when a number was given."""

    desc: bool
    limit: int
    explicit: bool
    span: tuple[int, int]


@dataclass(frozen=True)
class Threshold:
    op: str  # one of > >= < <=
    value: float
    percent: bool
    span: tuple[int, int]
    unit: str = ""  # a time unit right after the number ("day", "hour"): what it counts


def parse_ranking(question: str) -> Ranking | None:
    text = question.lower()
    match = re.search(rf"\b(?P<w>{_RANK_WORD})\s+{_N}\b", text)
    if match:
        return Ranking(_is_desc(match["w"]), number(match["n"]), True, match.span())
    match = re.search(rf"\b{_N}\s+(?P<w>{_RANK_WORD})\b", text)
    if match:
        return Ranking(_is_desc(match["w"]), number(match["n"]), True, match.span())
    match = re.search(r"\b(?P<w>top|bottom)\b", text)
    if match:
        return Ranking(_is_desc(match["w"]), DEFAULT_TOP, False, match.span())
    match = re.search(rf"\b(?P<w>{_RANK_WORD})\b", text)
    if match:
        return Ranking(_is_desc(match["w"]), 1, False, match.span())
    return None


_THRESHOLD = re.compile(
    r"\b(?P<op>more than|greater than|higher than|larger than|over|above|exceeding|at least|"
    r"less than|fewer than|lower than|smaller than|under|below|at most)\s+"
    r"(?P<cur>[$€£]|usd\s*)?(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>%|percent|k\b|m\b)?"
    r"(?:\s*(?P<time>day|hour|week|month|minute)s?\b)?"
)
_OPS = {
    "more than": ">",
    "greater than": ">",
    "higher than": ">",
    "larger than": ">",
    "over": ">",
    "above": ">",
    "exceeding": ">",
    "at least": ">=",
    "less than": "<",
    "fewer than": "<",
    "lower than": "<",
    "smaller than": "<",
    "under": "<",
    "below": "<",
    "at most": "<=",
}


THRESHOLD_WORDS = frozenset(w for phrase in _OPS for w in phrase.split())


def parse_thresholds(question: str) -> list[Threshold]:
    found = []
    for match in _THRESHOLD.finditer(question.lower()):
        value = float(match["num"].replace(",", ""))
        unit = match["unit"] or ""
        value *= {"k": 1_000, "m": 1_000_000}.get(unit, 1)
        percent = unit in ("%", "percent")
        found.append(
            Threshold(_OPS[match["op"]], value, percent, match.span(), match["time"] or "")
        )
    return found


def _is_desc(word: str) -> bool:
    return word in _DESCENDING
