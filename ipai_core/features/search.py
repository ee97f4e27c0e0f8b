"""Nearest neighbours in an embedding set, under the caller's RLS: a finance user limited to one
company finds only that company's partners and invoices; a catalog entry shows only to those who
may read the relation it describes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError
from ipai_core.features.embeddings import Embedder
from ipai_core.features.registry import get_feature_set, qualified
from ipai_core.features.vectors import vector_column

MAX_K = 200
_STORED = ("embedding", "source_hash", "model", "embedded_at")  # bookkeeping, not shown


@dataclass(frozen=True)
class Match:
    key: dict[str, Any]  # the entity key, e.g. {"partner_id": 7}
    text: str
    distance: float  # cosine distance: 0 same direction, 1 unrelated, 2 opposite
    attributes: dict[str, Any]  # the set's other columns, e.g. company_id


def similar(
    s: ScopedSession, feature_set: str, text: str, k: int = 5, *, embedder: Embedder
) -> list[Match]:
    """The `k` rows of `feature_set` closest to `text` (cosine distance, `<=>` on pgvector),
    among those this session's principal may read and that `embedder`'s model produced."""
    if not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be between 1 and {MAX_K}; got `{k}`")
    fs = get_feature_set(s, feature_set)
    if not fs.is_embeddings:
        raise ConfigError(
            f"`{feature_set}` is a feature table, not an embedding set; query `{fs.relation}`"
        )
    table = qualified(fs.relation)
    column = vector_column(s, fs.relation)
    columns = s.query(sql.SQL("SELECT * FROM {} LIMIT 0").format(table)).columns
    shown = [c for c in columns if c not in _STORED]
    vector = embedder.embed([text])[0]
    column.prepare_search(s)
    rows = s.query(
        sql.SQL(
            "SELECT {columns}, {distance} AS distance FROM {table} WHERE model = %s"
            " ORDER BY distance LIMIT %s"
        ).format(
            columns=sql.SQL(", ").join(map(sql.Identifier, shown)),
            distance=column.distance(sql.Placeholder()),
            table=table,
        ),
        [vector, embedder.model, k],
    ).to_dicts()
    return [_match(row, fs.entity_key) for row in rows]


def _match(row: dict[str, Any], key: tuple[str, ...]) -> Match:
    return Match(
        key={k: row.pop(k) for k in key},
        text=str(row.pop("text")),
        distance=float(row.pop("distance")),
        attributes=row,
    )
