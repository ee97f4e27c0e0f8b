"""The built-in planner: no model, no network.

It mends misspellings and everyday synonyms (`spelling`),
reads time phrases against the catalog's "today", "top 5" / "highest" / "5 customers" as ordering
and limit, "more than 10000" as a threshold, and dimension values named in the question (looked
up under the user's RLS) as filters. It builds a plan on each of the best-ranked datasets (a
`DatasetRanker`, the lexical one by default) and keeps the one that accounts for the most words
of the question (`coverage`). When a word that asks for something is left over — a grouping, a
measure or a period the data lacks — it asks back with the closest options instead of answering
a different question; so it does when two datasets or two measures fit equally."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

from ipai_core.genie.coverage import (
    FILLER_WORDS,
    phrases_of,
    positions_in,
    unconsumed,
    unit_positions,
)
from ipai_core.genie.explain import describe
from ipai_core.genie.matching import (
    VALUE_WEIGHT,
    FieldHit,
    ModelMatch,
    Question,
    ValueHit,
    match_model,
    match_values,
)
from ipai_core.genie.modifiers import (
    ASCENDING_WORDS,
    RANKING_WORDS,
    THRESHOLD_WORDS,
    Ranking,
    Threshold,
    parse_ranking,
    parse_thresholds,
)
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
from ipai_core.genie.spelling import Reading, Speller
from ipai_core.genie.text import (
    Token,
    find_phrases,
    is_count,
    number,
    phrase_stems,
    stem,
    tokenize,
)
from ipai_core.genie.timephrases import TIME_WORDS, TimeMatch, parse_time
from ipai_core.semantic.models import Dimension, Measure, SemanticModel
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
_TOTAL = re.compile(
    r"\b(?:in total|overall|altogether|all together|combined|grand total|pooled|consolidated"
    r"|(?:the\s+)?whole group|group[- ]wide|company[- ]wide|both companies|together"
    r"|all (?:our\s+)?(?:companies|repositories|repos|stores|campaigns|customers|vendors))\b"
)
GROUPING_WORDS = frozenset({"by", "per", "each", "every", "across", "which", "what", "who"})
CANDIDATES = 4  # datasets, best-ranked first, that a plan is built on to compare their coverage


class OfflinePlanner:
    name: PlannerName = "offline"

    def __init__(self, ranker: DatasetRanker | None = None) -> None:
        self.ranker = ranker or LexicalRanker()

    def plan(self, question: str, catalog: Catalog) -> PlanResult:
        return PlanResult(self._plan(question, catalog), "offline")

    def _plan(self, question: str, catalog: Catalog) -> Plan:
        reading = Speller(_vocabulary(catalog)).read(question)
        time = parse_time(reading.text, catalog.today)
        ranking = parse_ranking(reading.text)
        taken = [*time.spans, *([ranking.span] if ranking else [])]
        words = Question.of(reading.text, taken)
        chosen = self._choose(words, time, catalog)
        if not isinstance(chosen, list):
            return chosen
        built = [
            _Builder(words, time, ranking, m, reading, catalog.today).build(score)
            for m, score in chosen
        ]
        fewest = min(len(b.left) for b in built)
        best = [b for b in built if len(b.left) == fewest]
        top = max(b.score for b in best)
        best = [b for b in best if b.score == top]
        if len(best) > 1:
            return Clarification(
                "This could come from more than one dataset; which one do you mean?",
                tuple(_in_dataset(reading.text, b.model) for b in best),
            )
        winner = best[0]
        if winner.left:
            return _cannot_answer(reading.text, winner, built)
        return winner.plan

    def _choose(
        self, words: Question, time: TimeMatch, catalog: Catalog
    ) -> list[tuple[ModelMatch, float]] | Clarification | Refusal:
        """The best-ranked readable datasets, with the values the question names in each; a
        refusal when the question is about a dataset the user cannot read."""
        readable = self.ranker.rank(words, time, catalog.readable_models)
        hidden = self.ranker.rank(words, time, catalog.unreadable_models)
        if not readable:
            readable = _ranked_by_values(words, catalog, catalog.readable_models)
        if hidden and (not readable or hidden[0].score > readable[0].score):
            return _refusal(hidden[0].model)
        if not readable:
            return Clarification(
                "I could not tell which data this is about; which one do you mean?",
                tuple(_in_dataset(words.text, m) for m in catalog.readable_models),
            )
        chosen = []
        for ranked in readable[:CANDIDATES]:
            match = _with_values(words, ranked.model, catalog)
            named_values = VALUE_WEIGHT * sum(v.match.size for v in match.values)
            chosen.append((match, ranked.score + named_values))
        return chosen


@dataclass(frozen=True)
class _Built:
    """A plan on one dataset, its ranking score, and the question's words it left unused."""

    model: SemanticModel
    plan: QueryPlan | Clarification
    score: float
    left: tuple[Token, ...]


class _Builder:
    """Builds the query for the chosen model from what the question's words matched, keeping
    account of the words each part of the plan consumed."""

    def __init__(
        self,
        words: Question,
        time: TimeMatch,
        ranking: Ranking | None,
        match: ModelMatch,
        reading: Reading,
        today: date,
    ) -> None:
        self.today = today
        self.words = words
        self.time = time
        self.ranking = ranking
        self.match = match
        self.model = match.model
        self.notes: list[str] = [reading.note] if reading.note else []
        self.consumed: set[int] = set(match.dataset_positions)
        self.ambiguity: Clarification | None = None
        self.used_fields: list[Measure | Dimension] = []

    def build(self, score: float) -> _Built:
        plan = self._plan()
        restated = self._words_of_used_fields()
        left = [t for t in unconsumed(self.words.tokens, self.consumed) if t.stem not in restated]
        return _Built(self.model, plan, score, tuple(left))

    def _plan(self) -> QueryPlan | Clarification:
        measures = self._measures()
        if isinstance(measures, Clarification):
            return measures
        self._consume_fields(measures)
        chosen = [self.model.measure(n) for n in measures]
        texts = [t for m in chosen for t in (m.name, m.label)]
        self.consumed |= unit_positions(self.words.tokens, texts)
        filters = self._value_filters()
        dimensions, time_dimension = self._dimensions(filters)
        self._consume_fields(dimensions)
        grain, time_range, time_dimension = self._time(time_dimension)
        filters += self._thresholds(measures)
        if self.ranking is None or not self.ranking.explicit:
            self.ranking = self._implicit_ranking(dimensions) or self.ranking
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
        if self.ambiguity is not None:
            return self.ambiguity  # the rest of the question is understood; this word is not
        return QueryPlan(query, describe(self.model, query), tuple(self.notes))

    def _measures(self) -> list[str] | Clarification:
        counted = self._counted()
        if counted is not None:
            return [counted]
        hits = self.match.hits("measure")
        strong = [h for h in hits if not h.positions <= self.match.dataset_positions]
        hits = strong or hits
        names = [h.name for h in hits]
        for hit in hits:
            self.consumed |= hit.positions
        for pair in self.match.ambiguous_measures:
            if pair[0] in names:
                labels = [f"{self.model.measure(n).label} ({n})" for n in pair]
                self.ambiguity = Clarification(
                    f"In {self.model.dataset}, that could mean more than one measure; which one?",
                    tuple(labels),
                )
        if not names:
            named_only_dataset = not self.match.values and not self.match.hits("dimension")
            if self.ranking is not None or named_only_dataset or not self.match.dataset_positions:
                return self._which_measure()
            default = self.model.measures[0]
            self.notes.append(f"no measure named; showing {default.label.lower()}")
            names = [default.name]
        return names

    def _which_measure(self) -> Clarification:
        """A question that names no number, and either ranks ("which store is doing best?"),
        names nothing but the dataset ("how did the ad do?") or names no dataset ("compare the
        two companies"): which number is wanted is asked, not guessed."""
        text = self.words.text.rstrip(" ?.")
        options = tuple(f"{m.label} — {text}" for m in self.model.measures[:5])
        return Clarification(f"Which number do you want from {_name(self.model)}?", options)

    def _consume_fields(self, names: Sequence[str]) -> None:
        """Every place the question names a field the plan uses: "sold the most units" names
        units twice."""
        for name in names:
            item = (
                self.model.measure(name)
                if any(m.name == name for m in self.model.measures)
                else self.model.dimension(name)
            )
            self.used_fields.append(item)
            for phrase in (item.name, item.label, *item.synonyms):
                for found in find_phrases(self.words.tokens, phrase, usable=set(self.words.usable)):
                    self.consumed |= set(found.positions)

    def _words_of_used_fields(self) -> set[str]:
        """Stems that restate a field the plan uses: a word of its name, label or synonyms
        ("average" of "Average days to pay"), of a measure's description ("lead time from PR
        opened to production") except words naming another field, and "average" for a measure
        that averages."""
        others = {
            s
            for d in self.model.dimensions
            if d not in self.used_fields
            for s in phrase_stems(f"{d.name} {d.label}")
        }
        words: set[str] = set()
        for item in self.used_fields:
            for phrase in (item.name, item.label, *item.synonyms):
                words |= set(phrase_stems(phrase))
            if isinstance(item, Measure):
                words |= set(phrase_stems(item.description)) - others
                if item.aggregation == "avg":
                    words |= {"average", "avg", "mean"}
        return words

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
        if len(counting) != 1:
            return None
        self.consumed |= positions_in(self.words.tokens, [found.span()])
        for hit in self.match.hits("measure"):
            if hit.name == counting[0]:
                self.consumed |= hit.positions
        return counting[0]

    def _value_filters(self) -> list[Filter]:
        by_dimension: dict[str, list[str]] = {}
        for hit in self.match.values:
            self.consumed |= _value_positions(self.words.tokens, hit)
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
        total = _TOTAL.search(self.words.text.lower()) is not None
        dimensions: list[str] = []
        time_dimension = None
        for hit in self.match.hits("dimension"):
            dimension = self.model.dimension(hit.name)
            self.consumed |= hit.positions
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
            if total and not self._grouping_word_before(hit):
                continue  # "deployments of every repository in total": one figure
            dimensions.append(dimension.name)
        return dimensions, time_dimension

    def _time(self, named: str | None) -> tuple[TimeGrain | None, TimeRange | None, str | None]:
        dimension = self.model.dimension(named) if named else self.model.default_time_dimension
        if dimension is None:
            if not self.time.time_range or self.time.covers(self.today):
                # "all time", "now", "this month": what a dataset without dates shows anyway
                self.consumed |= positions_in(self.words.tokens, self.time.spans)
            return None, None, None  # other time phrases stay unconsumed: asked back
        self.consumed |= positions_in(self.words.tokens, self.time.spans)
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
            if threshold.unit and not any(
                threshold.unit in f"{m} {self.model.measure(m).label}".lower() for m in measures
            ):
                continue  # "more than 90 days past due" on an amount: not a threshold on it
            if any(threshold.span[0] < e and s < threshold.span[1] for s, e in self.time.spans):
                continue
            name = self._measure_near(threshold.span[0], measures)
            value = self._scaled(name, threshold)
            self.consumed |= positions_in(self.words.tokens, [threshold.span])
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
            return [], DEFAULT_LIMIT  # the ranking's words stay unconsumed: asked back
        self.consumed |= positions_in(self.words.tokens, [self.ranking.span])
        measure = self._measure_near(self.ranking.span[1], measures, after=True)
        limit = self.ranking.limit
        if not self.ranking.explicit and limit == 1 and self._plural_subject(dimensions):
            limit = DEFAULT_LIMIT  # "which stores sold the most": all of them, best first
        return [OrderBy(field=measure, desc=self.ranking.desc)], limit

    def _implicit_ranking(self, dimensions: list[str]) -> Ranking | None:
        """ "5 customers by revenue", "the 3 slowest repositories": a count right before a
        grouping word asks for that many, best first (worst first with "least", "lowest" …)."""
        for hit in self.match.hits("dimension"):
            if hit.name not in dimensions or hit.match.first == 0:
                continue
            before = self.words.tokens[hit.match.first - 1]
            if before.index not in self.words.usable or not is_count(before.raw):
                continue
            desc = not any(t.raw in ASCENDING_WORDS for t in self.words.tokens)
            span = (before.start, before.end)
            if self.ranking is not None:  # "5 customers with the most …": both words rank
                self.consumed |= positions_in(self.words.tokens, [self.ranking.span])
                desc = self.ranking.desc
            return Ranking(desc, number(before.raw), True, span)
        return None

    def _plural_subject(self, dimensions: list[str]) -> bool:
        for hit in self.match.hits("dimension"):
            if hit.name in dimensions:
                raw = self.words.tokens[hit.match.positions[-1]].raw
                return raw != stem(raw)
        return False

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


def _value_positions(tokens: Sequence[Token], hit: ValueHit) -> set[int]:
    """The words of a value the question names, with the words it shares with its siblings
    next to them: "IPAI Demo Singapore" is found by "singapore" and consumes all three."""
    words = set(phrase_stems(hit.value))
    positions = set(hit.match.positions)
    for step in (-1, 1):
        cursor = (min(positions) if step < 0 else max(positions)) + step
        while 0 <= cursor < len(tokens) and tokens[cursor].stem in words:
            positions.add(cursor)
            cursor += step
    return positions


def _natural_grain(dimension: Dimension) -> TimeGrain:
    return dimension.time_grains[0] if dimension.time_grains else "month"


def _refusal(model: SemanticModel) -> Refusal:
    guards = "; ".join(model.rls_policy_refs) or "its row-level security policies"
    return Refusal(
        f"this question is about `{model.dataset}`, which you cannot read ({guards}). "
        "Ask an admin for the role if you need it"
    )


def _cannot_answer(text: str, winner: _Built, built: Sequence[_Built]) -> Clarification:
    """Ask back about the words no plan used: the datasets that do know some of them, the
    closest fields of the chosen one, and the question without them."""
    phrases = phrases_of(winner.left)
    quoted = " and ".join(f"'{p}'" for p in phrases)
    left = {t.index for t in winner.left}
    options = [
        _in_dataset(text, other.model)
        for other in built
        if other is not winner and left - {t.index for t in other.left}
    ]
    closest = _closest_fields(winner.model, phrases)
    message = (
        f"I can't answer {quoted} from {_name(winner.model)}: it has no measure, grouping, "
        "value or date by that name"
    )
    if closest:
        message += f" (closest: {', '.join(closest)})"
    options.append(_without(text, winner.left))
    return Clarification(message + ". Did you mean one of these?", tuple(dict.fromkeys(options)))


def _closest_fields(model: SemanticModel, phrases: Sequence[str]) -> list[str]:
    labels = [m.label.lower() for m in model.measures] + [d.label.lower() for d in model.dimensions]
    found: list[str] = []
    for phrase in phrases:
        found += difflib.get_close_matches(phrase.lower(), labels, n=2, cutoff=0.6)
    return list(dict.fromkeys(found))


def _without(text: str, tokens: Sequence[Token]) -> str:
    """The question with `tokens` (and a grouping word right before one) taken out."""
    drop = {t.index for t in tokens}
    words = tokenize(text)
    for token in tokens:
        if token.index > 0 and words[token.index - 1].raw in GROUPING_WORDS | {"to", "of"}:
            drop.add(token.index - 1)
    kept, cursor = [], 0
    for token in words:
        if token.index in drop:
            kept.append(text[cursor : token.start])
            cursor = token.end
    kept.append(text[cursor:])
    return re.sub(r"\s+", " ", "".join(kept)).strip(" ,;")


def _in_dataset(text: str, model: SemanticModel) -> str:
    return f"{text.rstrip(' ?.')} (in {_name(model)})"


def _name(model: SemanticModel) -> str:
    return model.dataset.replace("_", " ")


def _vocabulary(catalog: Catalog) -> set[str]:
    """Every word Genie knows: the models' names, labels and synonyms, and the words of time,
    ranking and coverage phrases."""
    phrases: list[str] = []
    for model in catalog.models.values():
        phrases += [model.dataset, *model.synonyms]
        for measure in model.measures:
            phrases += [measure.name, measure.label, *measure.synonyms]
        for dimension in model.dimensions:
            phrases += [dimension.name, dimension.label, *dimension.synonyms]
            for value, synonyms in dimension.value_synonyms.items():
                phrases += [value, *synonyms]
    words = {w for phrase in phrases for w in re.findall(r"[a-z]+", phrase.lower())}
    words |= {stem(w) for w in words} | {stem(w) + "s" for w in words}
    return words | TIME_WORDS | RANKING_WORDS | FILLER_WORDS | GROUPING_WORDS | THRESHOLD_WORDS
