"""Which datasets a question is about, best first.

`DatasetRanker` is the seam: the lexical ranker here (synonyms, measure and dimension names) is
the default; a ranker built on embeddings of the models' descriptions can take its place without
the planner changing. Scores only order datasets; equal best scores make the planner ask back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ipai_core.genie.matching import ModelMatch, Question, match_model
from ipai_core.genie.timephrases import TimeMatch
from ipai_core.semantic.models import SemanticModel

TIME_BONUS = 1  # a question with a time phrase leans towards datasets that have a time dimension


@dataclass(frozen=True)
class RankedDataset:
    model: SemanticModel
    score: float


class DatasetRanker(Protocol):
    """Scores the models for a question; datasets that do not fit at all are left out."""

    def rank(
        self, question: Question, time: TimeMatch, models: Sequence[SemanticModel]
    ) -> list[RankedDataset]: ...


class LexicalRanker:
    """Scores by the words a question shares with each model's synonyms and field names."""

    def rank(
        self, question: Question, time: TimeMatch, models: Sequence[SemanticModel]
    ) -> list[RankedDataset]:
        ranked = []
        for model in models:
            match = match_model(question, model)
            if match.score <= 0:
                continue
            ranked.append(RankedDataset(model, match.score + _time_bonus(match, time)))
        return sorted(ranked, key=lambda r: (-r.score, r.model.dataset))


def _time_bonus(match: ModelMatch, time: TimeMatch) -> int:
    return TIME_BONUS if time.found and match.model.default_time_dimension is not None else 0
