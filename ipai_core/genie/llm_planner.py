"""The LLM planner: the provider is shown the catalog of semantic models the asking user can read
and asked, with a strict JSON schema, for a semantic query (or a question back, a refusal, or —
when allowed — one SELECT). Its reply is data to validate, never to trust: the dataset must be in
the user's catalog, the query must compile against the model (same compiler, same caps), and SQL
goes through `check_select` before it runs. A provider failure falls back to the offline planner.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ipai_core.errors import LlmError
from ipai_core.genie.explain import describe
from ipai_core.genie.plan import (
    Catalog,
    Clarification,
    Plan,
    Planner,
    PlannerName,
    PlanResult,
    PlanUsage,
    QueryPlan,
    Refusal,
    SqlPlan,
)
from ipai_core.llm.provider import Completion, LlmProvider
from ipai_core.semantic.models import SemanticModel
from ipai_core.semantic.query import FILTER_OPS, TIME_GRAINS, FilterValue, SemanticQuery

log = logging.getLogger(__name__)
MAX_SYNONYMS = 6

_NULLABLE_STRING = {"type": ["string", "null"]}
_VALUE = {
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
    ]
}
PLAN_SCHEMA: dict[str, Any] = {
    "title": "GeniePlan",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "kind",
        "dataset",
        "measures",
        "dimensions",
        "filters",
        "time_range",
        "time_grain",
        "time_dimension",
        "order_by",
        "limit",
        "sql",
        "clarification",
        "options",
        "explanation",
    ],
    "properties": {
        "kind": {"type": "string", "enum": ["query", "sql", "clarify", "refuse"]},
        "dataset": _NULLABLE_STRING,
        "measures": {"type": "array", "items": {"type": "string"}},
        "dimensions": {"type": "array", "items": {"type": "string"}},
        "filters": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["field", "op", "value"],
                "properties": {
                    "field": {"type": "string"},
                    "op": {"type": "string", "enum": list(FILTER_OPS)},
                    "value": _VALUE,
                },
            },
        },
        "time_range": {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["start", "end"],
                    "properties": {"start": _NULLABLE_STRING, "end": _NULLABLE_STRING},
                },
            ]
        },
        "time_grain": {"anyOf": [{"type": "null"}, {"type": "string", "enum": list(TIME_GRAINS)}]},
        "time_dimension": _NULLABLE_STRING,
        "order_by": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["field", "desc"],
                "properties": {"field": {"type": "string"}, "desc": {"type": "boolean"}},
            },
        },
        "limit": {"type": "integer"},
        "sql": _NULLABLE_STRING,
        "clarification": _NULLABLE_STRING,
        "options": {"type": "array", "items": {"type": "string"}},
        "explanation": {"type": "string"},
    },
}

_INSTRUCTIONS = """You answer business questions by planning a query over a semantic layer.
Today is {today}. Use ONLY the datasets, measures and dimensions in the catalog below (by their
`name`); the user can read nothing else. Time ranges are half-open: start inclusive, end exclusive,
dates as YYYY-MM-DD. Reply with one JSON object that follows the schema.
- kind "query": a semantic query (dataset, measures, dimensions, filters, time_range, time_grain,
  order_by, limit at most {row_limit}).
- kind "clarify": the question fits several datasets or measures equally; ask which, with options.
- kind "refuse": the catalog cannot answer it; say why in `explanation`.
{sql_rule}
Catalog:
{catalog}"""
_SQL_ALLOWED = (
    '- kind "sql": only when no semantic query can express it: one PostgreSQL SELECT over the '
    "catalog's `view`s, in `sql`."
)
_SQL_FORBIDDEN = '- Never reply with kind "sql".'


class _Reply(BaseModel):
    """The model's answer, as the schema describes it; anything else fails validation."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["query", "sql", "clarify", "refuse"]
    dataset: str | None = None
    measures: list[str] = []
    dimensions: list[str] = []
    filters: list[dict[str, FilterValue]] = []
    time_range: dict[str, str | None] | None = None
    time_grain: str | None = None
    time_dimension: str | None = None
    order_by: list[dict[str, Any]] = []
    limit: int = 1000
    sql: str | None = None
    clarification: str | None = None
    options: list[str] = []
    explanation: str = ""


class LlmPlanner:
    name: PlannerName = "llm"

    def __init__(
        self,
        provider: LlmProvider,
        *,
        row_limit: int,
        allow_sql: bool = True,
        fallback: Planner | None = None,
        max_tokens: int = 800,
    ) -> None:
        self.provider = provider
        self.row_limit = row_limit
        self.allow_sql = allow_sql
        self.fallback = fallback
        self.max_tokens = max_tokens

    def plan(self, question: str, catalog: Catalog) -> PlanResult:
        try:
            completion = self.provider.complete(
                self._messages(question, catalog),
                json_schema=PLAN_SCHEMA,
                max_tokens=self.max_tokens,
            )
        except LlmError as exc:
            if self.fallback is None:
                raise
            log.warning("LLM planner failed (%s); falling back to the offline planner", exc)
            return self.fallback.plan(question, catalog)
        usage = PlanUsage(
            completion.prompt_tokens, completion.completion_tokens, completion.cost_usd
        )
        return PlanResult(self._plan_from(completion, catalog), "llm", usage)

    def _messages(self, question: str, catalog: Catalog) -> list[dict[str, Any]]:
        system = _INSTRUCTIONS.format(
            today=catalog.today.isoformat(),
            row_limit=self.row_limit,
            sql_rule=_SQL_ALLOWED if self.allow_sql else _SQL_FORBIDDEN,
            catalog=json.dumps([_entry(m) for m in catalog.readable_models], ensure_ascii=False),
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": question}]

    def _plan_from(self, completion: Completion, catalog: Catalog) -> Plan:
        try:
            reply = _Reply.model_validate(completion.parsed or {})
        except ValidationError as exc:
            return Refusal(f"the model's plan does not follow the schema: {_first_error(exc)}")
        if reply.kind == "clarify":
            question = reply.clarification or "Which of these do you mean?"
            return Clarification(question, tuple(reply.options))
        if reply.kind == "refuse":
            return Refusal(reply.explanation or "the model could not answer from the catalog")
        if reply.kind == "sql":
            if not self.allow_sql:
                return Refusal("the model answered with SQL, which is switched off here")
            if not reply.sql:
                return Refusal("the model chose SQL but sent none")
            # Models like to end a statement with `;`, which the guard refuses; one is dropped.
            statement = reply.sql.strip().removesuffix(";")
            return SqlPlan(statement, reply.explanation[:300] or "SQL written by the model")
        return self._query_plan(reply, catalog)

    def _query_plan(self, reply: _Reply, catalog: Catalog) -> Plan:
        dataset = reply.dataset or ""
        model = catalog.models.get(dataset)
        if model is None or dataset not in catalog.readable:
            return Refusal(
                f"the model planned a query on `{dataset}`, which is not a dataset you can read "
                f"(yours: {', '.join(sorted(catalog.readable)) or 'none'})"
            )
        try:
            query = SemanticQuery.model_validate(
                {
                    "dataset": dataset,
                    "measures": reply.measures,
                    "dimensions": reply.dimensions,
                    "filters": reply.filters,
                    "time_range": reply.time_range,
                    "time_grain": reply.time_grain,
                    "time_dimension": reply.time_dimension,
                    "order_by": reply.order_by,
                    "limit": reply.limit,
                }
            )
        except ValidationError as exc:
            return Refusal(f"the model's query is not valid: {_first_error(exc)}")
        return QueryPlan(query, describe(model, query))


def _entry(model: SemanticModel) -> dict[str, Any]:
    return {
        "dataset": model.dataset,
        "description": model.description,
        "view": model.source_view,
        "grain": model.grain,
        "measures": [
            {
                "name": m.name,
                "label": m.label,
                "format": m.format,
                "synonyms": m.synonyms[:MAX_SYNONYMS],
            }
            for m in model.measures
        ],
        "dimensions": [
            {"name": d.name, "label": d.label, "type": d.type, "time_grains": list(d.time_grains)}
            for d in model.dimensions
        ],
        "default_filters": [f.model_dump(mode="json") for f in model.default_filters],
    }


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "plan"
    return f"{where}: {error.get('msg', 'invalid')}"
