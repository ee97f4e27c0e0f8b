"""Ranking and threshold phrases: "top 5", "bottom 3", "the highest", "most"; "more than 10000",
"above 5%", "at most 2". Each parser returns what it found and the character span it used."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ipai_core.genie.text import NUMBER_WORD, number

_DESCENDING = {"top", "best", "highest", "largest", "biggest", "most"}
_ASCENDING = {"bottom", "worst", "lowest", "smallest", "least", "fewest"}
_N = r"(?P<n>\d{1,4}|" + NUMBER_WORD + r")"
_RANK_WORD = "|".join(sorted(_DESCENDING | _ASCENDING))
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


def parse_ranking(question: str) -> Ranking | None:
    text = question.lower()
    match = re.search(rf"\b(?P<w>{_RANK_WORD})\s+{_N}\b", text)
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


def parse_thresholds(question: str) -> list[Threshold]:
    found = []
    for match in _THRESHOLD.finditer(question.lower()):
        value = float(match["num"].replace(",", ""))
        unit = match["unit"] or ""
        value *= {"k": 1_000, "m": 1_000_000}.get(unit, 1)
        found.append(Threshold(_OPS[match["op"]], value, unit in ("%", "percent"), match.span()))
    return found


def _is_desc(word: str) -> bool:
    return word in _DESCENDING
