"""Words of a question and of the phrases they are matched against: lower-cased alphanumeric
tokens, light plural stemming, stop words that carry no meaning for matching, and phrase matching
that tolerates one extra word between a phrase's words ("failed production deployments" still
matches "failed deployments")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+")
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
}
NUMBER_WORD = "|".join(NUMBER_WORDS)  # a regex alternative of the words above


def number(text: str) -> int:
    """The value of a count written in digits or as one of `NUMBER_WORDS` ("12", "twelve")."""
    return int(text) if text.isdigit() else NUMBER_WORDS[text]


def is_count(text: str) -> bool:
    """A small count ("5", "five"): not a year, not a code."""
    return (text.isdigit() and 0 < int(text) <= 1000) or text in NUMBER_WORDS


_STOP_TEXT = """a an the of for in on at to by per and or with what whats is are was were be been
being show me give list tell get display our my we us all each every how much many do does did has
have had please i you your there their it its this that these those from as than vs versus compare
compared overall total can could would should will any some one ones so far up about across over
down into within s t re ve ll d m"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
MAX_GAP = 1  # words allowed between two words of a phrase
BOUNDARY_WORDS = frozenset({"by", "per", "and", "or", "vs", "versus", "than", "each", "across"})


@dataclass(frozen=True)
class Token:
    """One word of a question: its stem, where it sits, and whether it is a stop word."""

    stem: str
    raw: str
    index: int
    start: int
    end: int
    stop: bool


@dataclass(frozen=True)
class PhraseMatch:
    """Where a phrase's words were found (token indexes, in order)."""

    positions: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.positions)

    @property
    def first(self) -> int:
        return self.positions[0]


def stem(word: str) -> str:
    """Light stemming, the same for questions and phrases: plurals, and "-ing" ("paying" and
    "pay", "billing" and "bill" meet)."""
    if len(word) > 5 and word.endswith("ing"):
        base = word[:-3]
        return (
            base[:-1] if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "ls" else base
        )
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[Token]:
    lowered = text.lower()
    return [
        Token(stem(m.group()), m.group(), i, m.start(), m.end(), m.group() in STOP_WORDS)
        for i, m in enumerate(_WORD.finditer(lowered))
    ]


def phrase_stems(phrase: str) -> tuple[str, ...]:
    """The words a phrase is matched by (`Total open balance` → `open`, `balance`)."""
    words = _WORD.findall(phrase.lower().replace("_", " "))
    return tuple(stem(w) for w in words if w not in STOP_WORDS)


def find_phrase(tokens: list[Token], phrase: str, *, usable: set[int]) -> PhraseMatch | None:
    """The first place `phrase` occurs, as `find_phrases` finds it."""
    return next(iter(find_phrases(tokens, phrase, usable=usable)), None)


def find_phrases(tokens: list[Token], phrase: str, *, usable: set[int]) -> list[PhraseMatch]:
    """Every place the phrase's words occur (see `find_stems`); the boundary words the phrase
    itself contains may be crossed ("cost per conversion")."""
    return find_stems(tokens, phrase_stems(phrase), usable=usable, crossing=boundaries_in(phrase))


def boundaries_in(text: str) -> frozenset[str]:
    return BOUNDARY_WORDS & frozenset(_WORD.findall(text.lower()))


def find_stems(
    tokens: list[Token],
    stems: tuple[str, ...],
    *,
    usable: set[int],
    crossing: frozenset[str] = frozenset(),
) -> list[PhraseMatch]:
    """Every place all of `stems` occur in order among the usable, meaningful tokens, with at
    most `MAX_GAP` other meaningful words between two of them and no boundary word ("by",
    "and", "vs") in between other than `crossing`: "store by revenue" is not "store revenue"."""
    words = [t for t in tokens if t.index in usable and not t.stop]
    if not stems or len(stems) > len(words):
        return []
    found = []
    for begin, token in enumerate(words):
        if token.stem != stems[0]:
            continue
        positions = [token.index]
        cursor = begin
        for wanted in stems[1:]:
            window = words[cursor + 1 : cursor + 2 + MAX_GAP]
            hit = next((k for k, w in enumerate(window) if w.stem == wanted), None)
            if hit is None or _boundary_between(tokens, positions[-1], window[hit].index, crossing):
                break
            cursor += hit + 1
            positions.append(words[cursor].index)
        if len(positions) == len(stems):
            found.append(PhraseMatch(tuple(positions)))
    return found


def _boundary_between(tokens: list[Token], left: int, right: int, allowed: frozenset[str]) -> bool:
    return any(t.raw in BOUNDARY_WORDS - allowed for t in tokens[left + 1 : right])
