"""Matching a question's words against one semantic model: its dataset synonyms, its measures and
dimensions (name, label, synonyms), and the values of its look-up dimensions.

Longer phrases win: "gross margin" beats "margin", "failed deployments" beats "deployments". Two
measures claiming the very same words are reported as ambiguous rather than picked between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ipai_core.genie.text import (
    PhraseMatch,
    Token,
    boundaries_in,
    find_phrase,
    find_phrases,
    find_stems,
    phrase_stems,
    tokenize,
)
from ipai_core.semantic.models import Dimension, Measure, SemanticModel

FieldKind = Literal["measure", "dimension"]
DATASET_WEIGHT, MEASURE_WEIGHT, DIMENSION_WEIGHT, VALUE_WEIGHT = 2, 3, 1, 2
# Legal forms people leave out when they name a company.
_LEGAL_TEXT = (
    "inc incorporated co corp corporation ltd limited llc llp plc gmbh ag sa pte bv nv pty"
)
LEGAL_FORMS = frozenset(_LEGAL_TEXT.split())


@dataclass(frozen=True)
class Question:
    """A question ready for matching: its tokens and those not already used by time or top-N
    phrases."""

    text: str
    tokens: list[Token]
    usable: frozenset[int]

    @classmethod
    def of(cls, text: str, taken_spans: Sequence[tuple[int, int]] = ()) -> Question:
        tokens = tokenize(text)
        usable = frozenset(
            t.index for t in tokens if not any(s <= t.start < e for s, e in taken_spans)
        )
        return cls(text, tokens, usable)


@dataclass(frozen=True)
class FieldHit:
    kind: FieldKind
    name: str
    match: PhraseMatch

    @property
    def positions(self) -> frozenset[int]:
        return frozenset(self.match.positions)


@dataclass(frozen=True)
class ValueHit:
    dimension: str
    value: str
    match: PhraseMatch


@dataclass(frozen=True)
class ModelMatch:
    """How well one model fits a question, and which of its fields the question names."""

    model: SemanticModel
    dataset_positions: frozenset[int]
    fields: tuple[FieldHit, ...]
    ambiguous_measures: tuple[tuple[str, ...], ...] = ()
    values: tuple[ValueHit, ...] = field(default=())

    @property
    def score(self) -> int:
        total = DATASET_WEIGHT * len(self.dataset_positions)
        for hit in self.fields:
            weight = MEASURE_WEIGHT if hit.kind == "measure" else DIMENSION_WEIGHT
            total += weight * hit.match.size
        return total + VALUE_WEIGHT * sum(v.match.size for v in self.values)

    @property
    def used_positions(self) -> frozenset[int]:
        used: set[int] = set()
        for hit in self.fields:
            used |= hit.positions
        return frozenset(used)

    def hits(self, kind: FieldKind) -> list[FieldHit]:
        return sorted((h for h in self.fields if h.kind == kind), key=lambda h: h.match.first)

    def with_values(self, values: Sequence[ValueHit]) -> ModelMatch:
        return ModelMatch(
            self.model,
            self.dataset_positions,
            self.fields,
            self.ambiguous_measures,
            tuple(values),
        )


def match_model(question: Question, model: SemanticModel) -> ModelMatch:
    """Dataset synonyms, then measures and dimensions (longest phrases first, no overlaps)."""
    usable = set(question.usable)
    dataset_positions: set[int] = set()
    for phrase in (model.dataset, *model.synonyms):
        found = find_phrase(question.tokens, phrase, usable=usable)
        if found:
            dataset_positions.update(found.positions)
    candidates = [
        *(
            h
            for m in model.measures
            for h in _hits(question, "measure", m.name, _phrases(m), usable)
        ),
        *(
            h
            for d in model.dimensions
            for h in _hits(question, "dimension", d.name, _phrases(d), usable)
        ),
    ]
    ordered = sorted(candidates, key=_priority)
    taken: list[FieldHit] = []
    ambiguous: list[tuple[str, ...]] = []
    for hit in ordered:
        if any(t.name == hit.name and t.kind == hit.kind for t in taken):
            continue
        same = [t for t in taken if t.positions == hit.positions and t.kind == hit.kind]
        if same and hit.kind == "measure":
            ambiguous.append((same[0].name, hit.name))
        if any(t.positions & hit.positions for t in taken):
            continue  # a longer phrase already used these words; a shorter one may still fit
        taken.append(hit)
    return ModelMatch(model, frozenset(dataset_positions), tuple(taken), tuple(ambiguous))


def match_values(
    question: Question,
    model: SemanticModel,
    values_of: dict[str, Sequence[str]],
    *,
    exclude: frozenset[int] = frozenset(),
) -> list[ValueHit]:
    """Values of the model's dimensions named in the question — looked-up values ("ledger-api",
    "IPAI Demo Manila", "beverages") or a value's synonyms ("suppliers" → payable) — longest
    first, without reusing a word."""
    usable = set(question.usable) - set(exclude)
    candidates: list[ValueHit] = []
    for dimension in model.dimensions:
        named = [
            (value, stems, boundaries_in(value))
            for value, stems in _distinctive(values_of.get(dimension.name, ())).items()
        ]
        named += [
            (value, phrase_stems(synonym), boundaries_in(synonym))
            for value, synonyms in dimension.value_synonyms.items()
            for synonym in synonyms
        ]
        for value, stems, crossing in named:
            found = find_stems(question.tokens, stems, usable=usable, crossing=crossing)
            if found:
                candidates.append(ValueHit(dimension.name, value, found[0]))
    candidates.sort(key=lambda v: (-v.match.size, v.match.first))
    chosen: list[ValueHit] = []
    for hit in candidates:
        overlapping = [c for c in chosen if set(c.match.positions) & set(hit.match.positions)]
        same_words = all(set(c.match.positions) == set(hit.match.positions) for c in overlapping)
        if not overlapping or (same_words and overlapping[0].dimension == hit.dimension):
            chosen.append(hit)  # the same words naming two values of one dimension: both
    return chosen


def _distinctive(values: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The words that tell a value apart from its siblings ("ipai-demo/ledger-api" → ledger api).
    Words shared by every value are dropped; a value left with only numbers keeps all its words,
    so "Campaign 4" is not found in "top 4"."""
    stems_by_value = {v: phrase_stems(v) for v in values if v}
    shared = (
        set.intersection(*(set(s) for s in stems_by_value.values()))
        if len(stems_by_value) > 1
        else set()
    )
    result = {}
    for value, stems in stems_by_value.items():
        distinctive = tuple(s for s in stems if s not in shared)
        named = tuple(s for s in distinctive if s not in LEGAL_FORMS)
        if named and not all(s.isdigit() for s in named):
            distinctive = named  # "Kestrel Logistics" names "Kestrel Logistics Inc."
        if not distinctive or all(s.isdigit() for s in distinctive):
            distinctive = stems
        if distinctive:
            result[value] = distinctive
    return result


def _phrases(item: Measure | Dimension) -> tuple[str, ...]:
    return (item.name, item.label, *item.synonyms)


def _priority(hit: FieldHit) -> tuple[int, int, int, int]:
    """Measures outweigh dimensions (a measure word is rarely a grouping), longer phrases outweigh
    shorter ones, and a phrase found without gaps beats one found with them."""
    weight = MEASURE_WEIGHT if hit.kind == "measure" else DIMENSION_WEIGHT
    positions = hit.match.positions
    return (
        -weight * hit.match.size,
        positions[-1] - positions[0],
        hit.kind != "measure",
        positions[0],
    )


def _hits(
    question: Question, kind: FieldKind, name: str, phrases: Sequence[str], usable: set[int]
) -> list[FieldHit]:
    return [
        FieldHit(kind, name, match)
        for phrase in phrases
        for match in find_phrases(question.tokens, phrase, usable=usable)
    ]
