"""Small misspellings and everyday business words, mended before a question is matched.

A word is left alone when Genie knows it (a word of a semantic model's names, labels and synonyms,
a time or ranking word, a stop or filler word) or when it is an English word in common use
(`wordfreq`: a Zipf frequency of at least `COMMON_WORD`, so "still", "amber" or "wide" stay as
typed, and so do most names). An unknown, uncommon word is read as the
one known word within an edit distance of 1 (2 for words of eight letters or more), when exactly
one is that close: "revnue" → "revenue", "custmers" → "customers"; two equally close candidates
leave the word alone, to be asked about. Then `SYNONYMS` maps words people use for the same thing
onto the words the models use ("clients" → "customers", "PRs" → "pull requests"). Every change is
reported, so the answer can say how it read the question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from wordfreq import zipf_frequency

from ipai_core.genie.text import STOP_WORDS

SYNONYMS = {
    "client": "customer",
    "clients": "customers",
    "debtors": "customers",
    "debtor": "customer",
    "supplier": "vendor",
    "suppliers": "vendors",
    "creditors": "vendors",
    "creditor": "vendor",
    "turnover": "revenue",
    "prs": "pull requests",
    "pr": "pull request",
    "mrs": "pull requests",
    "prod": "production",
    "repo": "repository",
    "repos": "repositories",
    "deploys": "deployments",
    "deploy": "deployment",
    "yr": "year",
    "qtr": "quarter",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_MIN_LENGTH = 4  # shorter words are too easily one edit from another real word
COMMON_WORD = 2.0  # Zipf frequency (about once per 10 million words) above which a word is real


@dataclass(frozen=True)
class Reading:
    """The question as Genie reads it, and the words it read differently."""

    text: str
    changes: tuple[tuple[str, str], ...]

    @property
    def note(self) -> str | None:
        if not self.changes:
            return None
        read = ", ".join(f"'{a}' as '{b}'" for a, b in self.changes)
        return f"read {read}"


class Speller:
    """Mends questions against a vocabulary of known words (lower case)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.known = frozenset(w for w in vocabulary if w) | STOP_WORDS
        self._by_length: dict[int, list[str]] = {}
        for word in self.known:
            if len(word) >= _MIN_LENGTH - 1 and word.isalpha():
                self._by_length.setdefault(len(word), []).append(word)

    def read(self, question: str) -> Reading:
        changes: list[tuple[str, str]] = []

        def mend(match: re.Match[str]) -> str:
            raw = match.group()
            word = raw.lower()
            replacement = SYNONYMS.get(word)
            if replacement is None and not (raw[0].isupper() and match.start() > 0):
                replacement = self._corrected(word)  # a capitalised word inside is a name
            if replacement is None or replacement == word:
                return raw
            changes.append((raw, replacement))
            return replacement

        text = _WORD.sub(mend, question)
        return Reading(text, tuple(changes))

    def _corrected(self, word: str) -> str | None:
        if word in self.known or len(word) < _MIN_LENGTH or not word.isalpha():
            return None
        if zipf_frequency(word, "en") >= COMMON_WORD:
            return None
        limit = 2 if len(word) >= 8 else 1
        close: set[str] = set()
        best = limit + 1
        for length in range(len(word) - limit, len(word) + limit + 1):
            for candidate in self._by_length.get(length, ()):
                distance = edit_distance(word, candidate, limit)
                if distance < best:
                    best, close = distance, {candidate}
                elif distance == best:
                    close.add(candidate)
        if best > limit or not close:
            return None
        if len(close) > 1:  # "invoicd": "invoiced" keeps its last letter, "invoice" does not
            close = {c for c in close if c[-1] == word[-1] and c[0] == word[0]}
        if len(close) != 1:
            return None
        corrected = close.pop()
        return SYNONYMS.get(corrected, corrected)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap two neighbours),
    or `limit + 1` as soon as it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
