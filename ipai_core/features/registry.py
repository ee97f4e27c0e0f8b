"""The feature-set registry (`public.ipai_feature_set`): what each platinum feature set is, what
it is computed from, and when it was last refreshed with how many rows.

Rows are seeded by migrations; readers see the whole catalog, only the service role writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import sql

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import NotFound

FeatureKind = Literal["features", "embeddings"]
RefreshStatus = Literal["success", "failed", "skipped"]

_COLUMNS = (
    "name, kind, relation, description, source, entity_key, materialized_view, text_view, owner,"
    " model, refreshed_at, row_count, last_status, last_error"
)


@dataclass(frozen=True)
class FeatureSet:
    name: str
    kind: FeatureKind
    relation: str  # what users query
    description: str
    source: tuple[str, ...]
    entity_key: tuple[str, ...]
    materialized_view: str | None  # features: refreshed by the transformations
    text_view: str | None  # embeddings: the texts to embed
    owner: str
    model: str | None
    refreshed_at: datetime | None
    row_count: int | None
    last_status: RefreshStatus | None
    last_error: str | None

    @property
    def is_embeddings(self) -> bool:
        return self.kind == "embeddings"


def list_feature_sets(s: ScopedSession) -> list[FeatureSet]:
    """Every registered feature set, by name."""
    rows = s.query(
        sql.SQL("SELECT {} FROM public.ipai_feature_set ORDER BY name").format(sql.SQL(_COLUMNS))
    ).rows()
    return [_feature_set(row) for row in rows]


def get_feature_set(s: ScopedSession, name: str) -> FeatureSet:
    """One feature set by name; `NotFound` lists the known names."""
    known = list_feature_sets(s)
    for feature_set in known:
        if feature_set.name == name:
            return feature_set
    raise NotFound(
        f"no feature set `{name}`; known: {', '.join(f.name for f in known) or 'none'} "
        "(see `ipai features list`)",
        name=name,
    )


def record_refresh(
    s: ScopedSession,
    name: str,
    *,
    status: RefreshStatus,
    model: str | None = None,
    error: str | None = None,
) -> None:
    """Stamp a refresh on the registry (service role): status and error always; on success also
    the time, the model (embeddings) and the row count (all rows, whoever may read them)."""
    if status != "success":
        s.execute(
            "UPDATE public.ipai_feature_set SET last_status = %s, last_error = %s WHERE name = %s",
            [status, error, name],
        )
        return
    feature_set = get_feature_set(s, name)
    stored = feature_set.materialized_view or feature_set.relation  # every company's rows
    count = s.scalar(sql.SQL("SELECT count(*) FROM {}").format(qualified(stored)))
    s.execute(
        "UPDATE public.ipai_feature_set SET last_status = 'success', last_error = NULL,"
        " refreshed_at = now(), row_count = %s, model = coalesce(%s, model) WHERE name = %s",
        [count, model, name],
    )


def qualified(name: str) -> sql.Identifier:
    """`schema.name` as a quoted identifier."""
    schema, relation = name.split(".", 1)
    return sql.Identifier(schema, relation)


def _feature_set(row: tuple[Any, ...]) -> FeatureSet:
    (name, kind, relation, description, source, key, matview, text_view, owner) = row[:9]
    model, refreshed_at, row_count, status, error = row[9:]
    return FeatureSet(
        name=name,
        kind=kind,
        relation=relation,
        description=description,
        source=tuple(source),
        entity_key=tuple(key),
        materialized_view=matview,
        text_view=text_view,
        owner=owner,
        model=model,
        refreshed_at=refreshed_at,
        row_count=row_count,
        last_status=status,
        last_error=error,
    )
