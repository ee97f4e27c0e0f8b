"""Genie: a question in English → a plan → SQL → rows under the asking user's RLS → an answer.

Planning never touches the database except through the catalog's value look-ups, which run as the
user. Execution is one read-only transaction as the user, with Genie's statement timeout and row
limit. Every plan from a planner is validated the same way: semantic queries compile against
their model (declared fields only, values bound, the row cap), SQL passes `check_select`.
Refusals and failures come back as answers with a reason, and are logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import (
    AccessDenied,
    EmbeddingsUnavailable,
    IpaiError,
    LlmError,
    SemanticQueryError,
    UnsafeSql,
)
from ipai_core.genie.answer import GenieAnswer, chart_for_frame, chart_for_query
from ipai_core.genie.explain import condition, defaults_in_force, period_name
from ipai_core.genie.hostile import refusal_for
from ipai_core.genie.llm_planner import LlmPlanner
from ipai_core.genie.offline import OfflinePlanner
from ipai_core.genie.plan import (
    Catalog,
    Clarification,
    Planner,
    PlanResult,
    QueryPlan,
    Refusal,
    SqlPlan,
)
from ipai_core.genie.ranking import DatasetRanker
from ipai_core.genie.sqlguard import check_select
from ipai_core.lakehouse import Lakehouse
from ipai_core.llm.provider import LlmProvider
from ipai_core.semantic.compiler import compile_query, dimension_expression
from ipai_core.semantic.models import SemanticModel, load_models
from ipai_core.semantic.query import SemanticQuery

log = logging.getLogger(__name__)
MAX_LOOKUP_VALUES = 500
# Looked-up dimension values (companies, repositories, partners), kept per user for a minute:
# a question names values far more often than they change, and a look-up is a round trip each.
VALUE_CACHE_SECONDS = 60.0
VALUE_CACHE_ENTRIES = 4096
_TOKEN_ONLY_CLAIMS = frozenset({"iat", "exp", "nbf", "jti", "session_id"})


class Genie:
    """Ask questions as a principal. `planner` None: the LLM planner when IPAI_LLM_* is set
    (falling back to the offline one if the endpoint fails), else the offline planner."""

    def __init__(
        self,
        lakehouse: Lakehouse,
        planner: Planner | None = None,
        *,
        clock: Callable[[], date] | None = None,
    ) -> None:
        settings = lakehouse.settings
        self.lakehouse = lakehouse
        self.row_limit = settings.genie_row_limit
        self.statement_timeout_ms = settings.genie_statement_timeout_ms
        self.allowed_schemas = tuple(
            s.strip() for s in settings.genie_allowed_schemas.split(",") if s.strip()
        )
        self.planner = planner or _default_planner(lakehouse)
        self.clock = clock or (lambda: datetime.now(UTC).date())
        self._value_cache: dict[tuple[str, str, str], tuple[float, list[str]]] = {}

    def ask(
        self, principal: Principal, question: str, *, session_id: str | None = None
    ) -> GenieAnswer:
        """Answer `question` as `principal`; never raises for a refusal or a failed query."""
        started = time.monotonic()
        planner = self.planner.name
        try:
            refusal = refusal_for(question)  # before the catalog is read and any planner sees it
            if refusal is not None:
                answer = _refused(question, planner, refusal)
            else:
                catalog = self.catalog(principal)
                result = self.planner.plan(question, catalog)
                planner = result.planner
                answer = self._answer(principal, question, result, catalog)
        except LlmError as exc:
            answer = GenieAnswer("error", question, planner, explanation=str(exc))
        except (IpaiError, psycopg.Error) as exc:
            answer = _failure(question, planner, exc)
        answer = replace(answer, latency_ms=int((time.monotonic() - started) * 1000))
        _log(principal, answer, session_id)
        return answer

    def run_sql(self, principal: Principal, statement: str) -> GenieAnswer:
        """Free-SQL mode: one SELECT over the allowed schemas, as `principal`, capped and timed."""
        started = time.monotonic()
        answer = self._run_sql(principal, statement, statement, "sql", "free SQL")
        answer = replace(answer, latency_ms=int((time.monotonic() - started) * 1000))
        _log(principal, answer, None)
        return answer

    def catalog(self, principal: Principal) -> Catalog:
        """The active semantic models, which of them show `principal` any row, and a cached
        look-up of dimension values as `principal` sees them."""
        with self.lakehouse.session(principal) as s:
            self._limit_session(s)
            models = load_models(s)
            readable = frozenset(name for name, m in models.items() if _has_rows(s, m))
        who = _identity(principal)

        def values(model: SemanticModel, dimension: str) -> Sequence[str]:
            key = (who, model.dataset, dimension)
            now = time.monotonic()
            cached = self._value_cache.get(key)
            if cached is None or now - cached[0] > VALUE_CACHE_SECONDS:
                if len(self._value_cache) >= VALUE_CACHE_ENTRIES:
                    self._value_cache.clear()
                cached = (now, self._values(principal, model, dimension))
                self._value_cache[key] = cached
            return cached[1]

        return Catalog(models, readable, self.clock(), values)

    def _answer(
        self, principal: Principal, question: str, result: PlanResult, catalog: Catalog
    ) -> GenieAnswer:
        answer = self._carry_out(principal, question, result, catalog)
        return replace(
            answer,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            cost_usd=result.usage.cost_usd,
        )

    def _carry_out(
        self, principal: Principal, question: str, result: PlanResult, catalog: Catalog
    ) -> GenieAnswer:
        plan, planner = result.plan, result.planner
        if isinstance(plan, Clarification):
            text = f"{plan.question} {'; '.join(plan.options)}".strip()
            return GenieAnswer(
                "clarify", question, planner, clarification=text, options=plan.options
            )
        if isinstance(plan, Refusal):
            return _refused(question, planner, plan)
        if isinstance(plan, SqlPlan):
            return self._run_sql(principal, question, plan.sql, planner, plan.explanation)
        return self._run_query(principal, question, plan, planner, catalog)

    def _run_query(
        self,
        principal: Principal,
        question: str,
        plan: QueryPlan,
        planner: Any,
        catalog: Catalog,
    ) -> GenieAnswer:
        model = catalog.models[plan.query.dataset]
        try:
            compiled = compile_query(model, plan.query, max_limit=self.row_limit)
        except SemanticQueryError as exc:
            return GenieAnswer(
                "refused", question, planner, explanation=str(exc), dataset=model.dataset
            )
        frame = self._read(principal, compiled.sql, compiled.params)
        notes, frame = self._period_notes(principal, model, plan.query, frame)
        return GenieAnswer(
            "answer",
            question,
            planner,
            explanation=plan.explanation,
            dataset=model.dataset,
            sql=compiled.sql,
            params=compiled.params,
            frame=frame,
            chart=chart_for_query(plan.query, frame),
            query=plan.query,
            notes=(*plan.notes, *notes),
            unused_words=plan.unused_words,
        )

    def _period_notes(
        self, principal: Principal, model: SemanticModel, query: SemanticQuery, frame: Any
    ) -> tuple[list[str], Any]:
        """What the answer assumed about time, and why it is empty when it is: "no period
        named: all data, …", "no data for December 2026; profit_and_loss has data from …".
        An empty answer comes back with no rows rather than one row of nulls."""
        name = query.time_dimension or (
            model.default_time_dimension.name if model.default_time_dimension else None
        )
        notes = [f"{condition(model, f)} (default)" for f in defaults_in_force(model, query)]
        latest = any(f.op == "latest" for f in (*query.filters, *model.default_filters))
        empty = frame.height == 0 or all(
            frame[m].null_count() == frame.height for m in query.measures if m in frame.columns
        )
        if name is None or (latest and query.time_range is None):
            return notes, frame.clear() if empty else frame
        if query.time_range is None and not empty:
            first, last = self._extent(principal, model, name)
            if first is not None:
                notes.append(f"no period named: all data, {first} to {last}")
            return notes, frame
        if not empty:
            return notes, frame
        first, last = self._extent(principal, model, name)
        asked = period_name(query.time_range) if query.time_range else "the period asked"
        if first is None:
            notes.insert(0, f"no data for {asked}: {model.dataset} has no rows you can see")
        else:
            notes.insert(0, f"no data for {asked}; {model.dataset} has data from {first} to {last}")
        return notes, frame.clear()

    def _extent(
        self, principal: Principal, model: SemanticModel, dimension: str
    ) -> tuple[Any, Any]:
        """The first and last day of a time dimension, as `principal` sees the view."""
        expression = dimension_expression(model.dimension(dimension))
        statement = sql.SQL("SELECT min({e})::date, max({e})::date FROM {v}").format(
            e=expression, v=sql.Identifier(model.view_schema, model.view)
        )
        with self.lakehouse.session(principal) as s:
            self._limit_session(s)
            row = s.query(statement, []).row(0)
        return row[0], row[1]

    def _run_sql(
        self, principal: Principal, question: str, statement: str, planner: Any, explanation: str
    ) -> GenieAnswer:
        try:
            checked = check_select(
                statement, allowed_schemas=self.allowed_schemas, row_limit=self.row_limit
            )
            frame = self._read(principal, checked, None)
        except UnsafeSql as exc:
            return GenieAnswer("refused", question, planner, explanation=str(exc), sql=statement)
        except (IpaiError, psycopg.Error) as exc:
            return replace(_failure(question, planner, exc), sql=statement)
        return GenieAnswer(
            "answer",
            question,
            planner,
            explanation=explanation,
            sql=checked,
            frame=frame,
            chart=chart_for_frame(frame),
        )

    def _read(self, principal: Principal, statement: str, params: list[Any] | None) -> Any:
        with self.lakehouse.session(principal) as s:
            self._limit_session(s)
            return s.query(statement, params)

    def _values(self, principal: Principal, model: SemanticModel, dimension: str) -> list[str]:
        expression = dimension_expression(model.dimension(dimension))
        statement = sql.SQL(
            "SELECT DISTINCT {e}::text FROM {v} WHERE {e} IS NOT NULL ORDER BY 1 LIMIT {n}"
        ).format(
            e=expression,
            v=sql.Identifier(model.view_schema, model.view),
            n=sql.Literal(MAX_LOOKUP_VALUES),
        )
        with self.lakehouse.session(principal) as s:
            self._limit_session(s)
            # `[]`, not None: the checked expression has its `%` doubled for the driver.
            return [str(v) for v in s.query(statement, []).to_series().to_list()]

    def _limit_session(self, s: ScopedSession) -> None:
        """Read-only from here on, and cut at Genie's statement timeout — or sooner, at the
        caller's own (an agent's latency budget), which Genie never lengthens."""
        caller = s.principal.statement_timeout_ms
        timeout = (
            self.statement_timeout_ms if caller is None else min(caller, self.statement_timeout_ms)
        )
        s.execute("SET LOCAL transaction_read_only = on")
        s.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout)])


def _default_planner(lakehouse: Lakehouse) -> Planner:
    settings = lakehouse.settings
    offline = OfflinePlanner(ranker=_dataset_ranker(lakehouse))
    provider = LlmProvider.from_settings(settings)
    if provider is None:
        return offline
    return LlmPlanner(
        provider,
        row_limit=settings.genie_row_limit,
        allow_sql=settings.genie_llm_sql,
        fallback=offline,
    )


def _dataset_ranker(lakehouse: Lakehouse) -> DatasetRanker | None:
    """Words and meaning (the semantic models' embeddings) when embeddings are on; words alone
    (None: the planner's default) when they are off or not refreshed yet."""
    from ipai_core.features.embeddings import embedder_from_settings  # features imports genie
    from ipai_core.features.ranker import EmbeddingDatasetRanker

    try:
        return EmbeddingDatasetRanker.from_lakehouse(
            lakehouse, embedder_from_settings(lakehouse.settings)
        )
    except EmbeddingsUnavailable as exc:
        log.info("genie ranks datasets by their words only: %s", exc)
        return None


def _identity(principal: Principal) -> str:
    """Who sees which rows: the role and the claims RLS reads, without what only one token
    carries (its times and id), so a user's next token finds the same cached values."""
    claims = {k: v for k, v in principal.claims.items() if k not in _TOKEN_ONLY_CLAIMS}
    return f"{principal.db_role}:{json.dumps(claims, sort_keys=True, default=str)}"


def _has_rows(s: ScopedSession, model: SemanticModel) -> bool:
    """Whether the view shows this principal any row (its RLS guard may hide them all)."""
    statement = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
        sql.Identifier(model.view_schema, model.view)
    )
    try:
        with s.connection.transaction():
            return bool(s.scalar(statement))
    except (AccessDenied, psycopg.Error):
        return False


def _refused(question: str, planner: Any, refusal: Refusal) -> GenieAnswer:
    return GenieAnswer("refused", question, planner, explanation=refusal.reason)


def _failure(question: str, planner: Any, exc: Exception) -> GenieAnswer:
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return GenieAnswer(
            "error",
            question,
            planner,
            explanation="the query ran past Genie's statement timeout "
            "(IPAI_GENIE_STATEMENT_TIMEOUT_MS); narrow it down or aggregate",
        )
    if isinstance(exc, AccessDenied):
        return GenieAnswer("refused", question, planner, explanation=str(exc))
    if isinstance(exc, psycopg.Error):
        message = exc.diag.message_primary or str(exc)
        return GenieAnswer("error", question, planner, explanation=f"the database said: {message}")
    return GenieAnswer("error", question, planner, explanation=str(exc))


def _log(principal: Principal, answer: GenieAnswer, session_id: str | None) -> None:
    fields = (
        answer.status,
        answer.planner,
        principal.label,
        session_id,
        answer.dataset,
        answer.latency_ms,
        answer.question,
    )
    if answer.status == "refused":
        log.warning(
            "genie refused status=%s planner=%s user=%s session=%s dataset=%s ms=%d "
            "question=%r reason=%s",
            *fields,
            answer.explanation,
        )
    elif answer.status == "error":
        log.error(
            "genie failed status=%s planner=%s user=%s session=%s dataset=%s ms=%d "
            "question=%r error=%s",
            *fields,
            answer.explanation,
        )
    else:
        log.info("genie %s planner=%s user=%s session=%s dataset=%s ms=%d question=%r", *fields)
