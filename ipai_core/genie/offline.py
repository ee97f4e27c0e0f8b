"""The built-in planner: no model, no network. It picks the dataset (a `DatasetRanker`, the
lexical one by default), matches measures and dimensions by name and synonym, reads time phrases
against the catalog's "today", "top 5" / "highest" as ordering and limit, "more than 10000" as a
threshold, and dimension values named in the question (looked up under the user's RLS) as
filters. When two datasets or two measures fit equally it asks back instead of guessing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

from ipai_core.genie.explain import describe
from ipai_core.genie.matching import FieldHit, ModelMatch, Question, match_model, match_values
from ipai_core.genie.modifiers import Ranking, Threshold, parse_ranking, parse_thresholds
from ipai_core.genie.plan import (
    Catalog,
    Clarification,
    Plan,
    PlannerName,
    PlanResult,
    QueryPlan,
    Refusal,
)
from ipai_core.genie.ranking import DatasetRanker, LexicalRanker, RankedDataset
from ipai_core.genie.text import phrase_stems, stem
from ipai_core.genie.timephrases import TimeMatch, parse_time
from ipai_core.semantic.models import Dimension, SemanticModel
from ipai_core.semantic.query import (
    DEFAULT_LIMIT,
    TIME_GRAINS,
    Filter,
    FilterOp,
    OrderBy,
    SemanticQuery,
    TimeGrain,
    TimeRange,
)

_COUNT_QUESTION = re.compile(r"\b(?:how many|number of|count of)\s+(?P<word>[a-z]+)")
GROUPING_WORDS = frozenset({"by", "per", "each", "every", "across", "which", "what", "who"})


class OfflinePlanner:
    name: PlannerName = "offline"

    def __init__(self, ranker: DatasetRanker | None = None) -> None:
        self.ranker = ranker or LexicalRanker()

    def plan(self, question: str, catalog: Catalog) -> PlanResult:
        return PlanResult(self._plan(question, catalog), "offline")

    def _plan(self, question: str, catalog: Catalog) -> Plan:
        time = parse_time(question, catalog.today)
        ranking = parse_ranking(question)
        taken = [*time.spans, *([ranking.span] if ranking else [])]
        words = Question.of(question, taken)
        chosen = self._choose(words, time, catalog)
        if not isinstance(chosen, ModelMatch):
            return chosen
        return _Builder(words, time, ranking, chosen).build()

    def _choose(
        self, words: Question, time: TimeMatch, catalog: Catalog
    ) -> ModelMatch | Clarification | Refusal:
        readable = self.ranker.rank(words, time, catalog.readable_models)
        hidden = self.ranker.rank(words, time, catalog.unreadable_models)
        if not readable:
            readable = _ranked_by_values(words, catalog, catalog.readable_models)
        if hidden and (not readable or hidden[0].score > readable[0].score):
            return _refusal(hidden[0].model)
        if not readable:
            return Clarification(
                "I could not tell which dataset this is about. Ask about one of these:",
                tuple(_option(m) for m in catalog.readable_models),
            )
        best = [r for r in readable if r.score == readable[0].score]
        candidates = [_with_values(words, r.model, catalog) for r in best]
        if len(candidates) > 1:
            top = max(c.score for c in candidates)
            scored = {c.model.dataset: c.score for c in candidates}
            candidates = [c for c in candidates if scored[c.model.dataset] == top]
        if len(candidates) > 1:
            return Clarification(
                "This could come from more than one dataset; which one do you mean?",
                tuple(_option(c.model) for c in candidates),
            )
        return candidates[0]


class _Builder:
    """Builds the query for the chosen model from what the question's words matched."""

    def __init__(
        self, words: Question, time: TimeMatch, ranking: Ranking | None, match: ModelMatch
    ) -> None:
        self.words = words
        self.time = time
        self.ranking = ranking
        self.match = match
        self.model = match.model
        self.notes: list[str] = []

    def build(self) -> Plan:
        measures = self._measures()
        if isinstance(measures, Clarification):
            return measures
        filters = self._value_filters()
        dimensions, time_dimension = self._dimensions(filters)
        grain, time_range, time_dimension = self._time(time_dimension)
        filters += self._thresholds(measures)
        order_by, limit = self._ranking(measures, dimensions, grain)
        query = SemanticQuery(
            dataset=self.model.dataset,
            measures=measures,
            dimensions=dimensions,
            filters=filters,
            time_range=time_range,
            time_grain=grain,
            time_dimension=time_dimension,
            order_by=order_by,
            limit=limit,
        )
        return QueryPlan(query, describe(self.model, query), tuple(self.notes))

    def _measures(self) -> list[str] | Clarification:
        counted = self._counted()
        if counted is not None:
            return [counted]
        hits = self.match.hits("measure")
        strong = [h for h in hits if not h.positions <= self.match.dataset_positions]
        hits = strong or hits
        names = [h.name for h in hits]
        for pair in self.match.ambiguous_measures:
            if pair[0] in names:
                labels = [f"{self.model.measure(n).label} ({n})" for n in pair]
                return Clarification(
                    f"In {self.model.dataset}, that could mean more than one measure; which one?",
                    tuple(labels),
                )
        if not names:
            default = self.model.measures[0]
            self.notes.append(f"no measure named; showing {default.label.lower()}")
            names = [default.name]
        return names

    def _counted(self) -> str | None:
        """For "how many creatives …" or "number of campaigns …": the one counting measure
        whose phrases name that word, if there is exactly one."""
        found = _COUNT_QUESTION.search(self.words.text.lower())
        if found is None:
            return None
        wanted = stem(found["word"])
        counting = [
            m.name
            for m in self.model.measures
            if m.aggregation in ("count", "count_distinct")
            and any(wanted in phrase_stems(p) for p in (m.name, m.label, *m.synonyms))
        ]
        return counting[0] if len(counting) == 1 else None

    def _value_filters(self) -> list[Filter]:
        by_dimension: dict[str, list[str]] = {}
        for hit in self.match.values:
            by_dimension.setdefault(hit.dimension, [])
            if hit.value not in by_dimension[hit.dimension]:
                by_dimension[hit.dimension].append(hit.value)
        return [
            Filter(field=name, op="=", value=values[0])
            if len(values) == 1
            else Filter(field=name, op="in", value=list(values))
            for name, values in by_dimension.items()
        ]

    def _dimensions(self, filters: list[Filter]) -> tuple[list[str], str | None]:
        pinned = {f.field for f in filters if f.op == "="}
        dimensions: list[str] = []
        time_dimension = None
        for hit in self.match.hits("dimension"):
            dimension = self.model.dimension(hit.name)
            if dimension.is_time:
                time_dimension = time_dimension or dimension.name
                continue
            if any(
                v.dimension == hit.name and set(v.match.positions) & hit.positions
                for v in self.match.values
            ):
                continue  # the word is part of a value ("Campaign 2"), not a grouping
            asked = self._grouping_word_before(hit) or self._ranked_subject(hit)
            if hit.positions <= self.match.dataset_positions and not asked:
                continue  # the word names the dataset ("campaign budget"), not a grouping
            if dimension.name in pinned and not asked:
                continue  # "revenue for MNL-01 store": one value, nothing to group
            dimensions.append(dimension.name)
        return dimensions, time_dimension

    def _time(self, named: str | None) -> tuple[TimeGrain | None, TimeRange | None, str | None]:
        dimension = self.model.dimension(named) if named else self.model.default_time_dimension
        if dimension is None:
            if self.time.found:
                phrases = ", ".join(f"'{p}'" for p in self.time.phrases)
                self.notes.append(f"{self.model.dataset} has no date to apply {phrases} to")
            return None, None, None
        grain = self.time.grain
        if grain is None and (self.time.natural_grain or (named and not self.time.time_range)):
            grain = _natural_grain(dimension)
        if grain is not None:
            grain = self._allowed_grain(dimension, grain)
        explicit = named if named and named != self._default_time_name() else None
        return grain, self.time.time_range, explicit

    def _allowed_grain(self, dimension: Dimension, grain: TimeGrain) -> TimeGrain:
        allowed = dimension.time_grains or TIME_GRAINS
        if grain in allowed:
            return grain
        wanted = TIME_GRAINS.index(grain)
        coarser = [g for g in allowed if TIME_GRAINS.index(g) > wanted]
        if coarser:
            chosen = min(coarser, key=TIME_GRAINS.index)  # the finest grain above the asked one
        else:
            chosen = max(allowed, key=TIME_GRAINS.index)  # else the coarsest below it
        self.notes.append(f"{self.model.dataset} has no {grain} figures; showing by {chosen}")
        return chosen

    def _thresholds(self, measures: list[str]) -> list[Filter]:
        used_chars = [
            (self.words.tokens[i].start, self.words.tokens[i].end)
            for i in self.match.used_positions
        ]
        filters = []
        for threshold in parse_thresholds(self.words.text):
            if any(threshold.span[0] < e and s < threshold.span[1] for s, e in used_chars):
                continue
            if any(threshold.span[0] < e and s < threshold.span[1] for s, e in self.time.spans):
                continue
            name = self._measure_near(threshold.span[0], measures)
            value = self._scaled(name, threshold)
            filters.append(Filter(field=name, op=cast(FilterOp, threshold.op), value=value))
        return filters

    def _scaled(self, measure: str, threshold: Threshold) -> float:
        is_percent = self.model.measure(measure).format == "percent"
        if is_percent and (threshold.percent or threshold.value > 1):
            return threshold.value / 100
        return threshold.value

    def _ranking(
        self, measures: list[str], dimensions: list[str], grain: TimeGrain | None
    ) -> tuple[list[OrderBy], int]:
        if self.ranking is None:
            return [], DEFAULT_LIMIT
        if not dimensions and grain is None:
            self.notes.append("nothing to rank: name what to rank, e.g. 'top 5 customers by …'")
            return [], DEFAULT_LIMIT
        measure = self._measure_near(self.ranking.span[1], measures, after=True)
        return [OrderBy(field=measure, desc=self.ranking.desc)], self.ranking.limit

    def _measure_near(self, offset: int, measures: Sequence[str], *, after: bool = False) -> str:
        """The measure named right after (or before) a character offset, else the first one."""
        hits = [h for h in self.match.hits("measure") if h.name in measures]
        starts = {h.name: self.words.tokens[h.match.first].start for h in hits}
        if after:
            following = [n for n in measures if starts.get(n, -1) >= offset]
            return following[0] if following else measures[0]
        preceding = [n for n in measures if -1 < starts.get(n, -1) < offset]
        return preceding[-1] if preceding else measures[0]

    def _grouping_word_before(self, hit: FieldHit) -> bool:
        index = hit.match.first
        before = self.words.tokens[index - 1].raw if index > 0 else ""
        return before in GROUPING_WORDS

    def _ranked_subject(self, hit: FieldHit) -> bool:
        if self.ranking is None:
            return False
        following = [t for t in self.words.tokens if t.start >= self.ranking.span[1]]
        return bool(following) and following[0].index == hit.match.first

    def _default_time_name(self) -> str | None:
        default = self.model.default_time_dimension
        return default.name if default else None


def _with_values(words: Question, model: SemanticModel, catalog: Catalog) -> ModelMatch:
    match = match_model(words, model)
    values_of = {d.name: catalog.values(model, d.name) for d in model.dimensions if d.lookup}
    measure_words: set[int] = set()
    for hit in match.hits("measure"):
        measure_words |= hit.positions
    hits = match_values(words, model, values_of, exclude=frozenset(measure_words))
    return match.with_values(hits)


def _ranked_by_values(
    words: Question, catalog: Catalog, models: Sequence[SemanticModel]
) -> list[RankedDataset]:
    """When no dataset's words match, the datasets whose values the question names."""
    ranked = []
    for model in models:
        match = _with_values(words, model, catalog)
        if match.values:
            ranked.append(RankedDataset(model, match.score))
    return sorted(ranked, key=lambda r: (-r.score, r.model.dataset))


def _natural_grain(dimension: Dimension) -> TimeGrain:
    return dimension.time_grains[0] if dimension.time_grains else "month"


def _option(model: SemanticModel) -> str:
    return f"{model.dataset}: {model.description}"


def _refusal(model: SemanticModel) -> Refusal:
    guards = "; ".join(model.rls_policy_refs) or "its row-level security policies"
    return Refusal(
        f"this question is about `{model.dataset}`, which you cannot read ({guards}). "
        "Ask an admin for the role if you need it"
    )
