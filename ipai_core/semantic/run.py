"""Running a semantic query: compile it against its model and read the rows in the caller's
session, so the principal's grants and RLS apply to every row."""

from __future__ import annotations

import polars as pl

from ipai_core.db.scoped import ScopedSession
from ipai_core.semantic.compiler import MAX_LIMIT, compile_query
from ipai_core.semantic.models import SemanticModel, load_model
from ipai_core.semantic.query import SemanticQuery


def run_semantic_query(
    session: ScopedSession,
    query: SemanticQuery,
    *,
    model: SemanticModel | None = None,
    max_limit: int = MAX_LIMIT,
) -> pl.DataFrame:
    """The query's rows as a DataFrame (columns in `compile_query(...).columns` order)."""
    model = model or load_model(session, query.dataset)
    compiled = compile_query(model, query, max_limit=max_limit)
    return session.query(compiled.sql, compiled.params)
