"""`EmbeddingDatasetRanker`: Genie's `DatasetRanker` that also weighs what a question means, by
the cosine similarity between the question and each semantic model's stored embedding
(`catalog_embeddings`, rows of kind `semantic_model`).

The lexical score (words shared with synonyms and field names) stays first; the similarity,
rounded to one decimal, is added to it. So a dataset the words miss can still be chosen when its
description is close in meaning, lexical ties are broken only by a real difference in meaning,
and datasets about equally close still tie — Genie then asks back rather than guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import IpaiError
from ipai_core.features.embeddings import Embedder
from ipai_core.genie.matching import Question
from ipai_core.genie.ranking import DatasetRanker, LexicalRanker, RankedDataset
from ipai_core.genie.timephrases import TimeMatch
from ipai_core.lakehouse import Lakehouse
from ipai_core.semantic.models import SemanticModel

# Below this a dataset the words missed is left out (MiniLM: unrelated texts score about 0-0.2).
MIN_SIMILARITY = 0.3

_VECTORS = """
SELECT object_name, embedding::real[] AS vector
  FROM ipai_platinum_core.catalog_embeddings
 WHERE object_kind = 'semantic_model' AND model = %s
"""


class EmbeddingDatasetRanker:
    """Ranks datasets by words and meaning. `load` reads the vectors a session may see;
    `from_lakehouse` all of them."""

    def __init__(
        self,
        embedder: Embedder,
        vectors: Mapping[str, Sequence[float]],
        *,
        lexical: DatasetRanker | None = None,
        min_similarity: float = MIN_SIMILARITY,
    ) -> None:
        self._embedder = embedder
        self._vectors = {name: _unit(v) for name, v in vectors.items()}
        self._lexical = lexical or LexicalRanker()
        self._min_similarity = min_similarity

    @classmethod
    def load(cls, s: ScopedSession, embedder: Embedder) -> EmbeddingDatasetRanker:
        """The semantic models' vectors of `embedder`'s model visible in this session."""
        rows = s.query(_VECTORS, [embedder.model]).rows()
        return cls(embedder, {str(name): list(vector) for name, vector in rows})

    @classmethod
    def from_lakehouse(cls, lh: Lakehouse, embedder: Embedder) -> EmbeddingDatasetRanker:
        """Every semantic model's vector, for a planner that lives longer than one request: a
        model's description is metadata, and the planner keeps the datasets a user may not read
        apart itself."""
        with lh.session(Principal.service("genie: dataset vectors")) as s:
            return cls.load(s, embedder)

    def rank(
        self, question: Question, time: TimeMatch, models: Sequence[SemanticModel]
    ) -> list[RankedDataset]:
        lexical = {r.model.dataset: r.score for r in self._lexical.rank(question, time, models)}
        similarity = self._similarities(question.text)
        ranked = []
        for model in models:
            words = lexical.get(model.dataset, 0.0)
            meaning = similarity.get(model.dataset, 0.0)
            if words <= 0 and meaning < self._min_similarity:
                continue
            ranked.append(RankedDataset(model, words + round(meaning, 1)))
        return sorted(ranked, key=lambda r: (-r.score, r.model.dataset))

    def _similarities(self, text: str) -> dict[str, float]:
        """Cosine similarity of the question to each known dataset; none when the embedding
        model fails (the lexical ranking then stands alone)."""
        if not self._vectors:
            return {}
        try:
            query = _unit(self._embedder.embed([text])[0])
        except IpaiError:
            return {}
        return {
            name: sum(a * b for a, b in zip(query, vector, strict=True))
            for name, vector in self._vectors.items()
        }


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]
