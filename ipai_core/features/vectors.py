"""How a server stores embeddings: pgvector's `vector(384)` where the extension exists, `real[]`
elsewhere (see migrations/20261124002920_embeddings.sql). Everything that differs between the
two is here: the distance expression, and the session setting that keeps a filtered HNSW scan
from returning fewer than k rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psycopg import sql

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError

VectorBackend = Literal["pgvector", "array"]

_COLUMN = """
SELECT format_type(a.atttypid, a.atttypmod), t.typname,
       (SELECT extversion FROM pg_extension WHERE extname = 'vector')
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = to_regclass(%s) AND a.attname = 'embedding' AND NOT a.attisdropped
"""


@dataclass(frozen=True)
class VectorColumn:
    """The `embedding` column of one embedding table."""

    relation: str
    type_name: str  # as the server spells it in a cast: vector(384), real[]
    backend: VectorBackend
    extension_version: tuple[int, ...] = ()

    def distance(self, query: sql.Composable) -> sql.Composable:
        """Cosine distance between `embedding` and `query` (a float array parameter)."""
        if self.backend == "pgvector":
            return sql.SQL("embedding <=> CAST({} AS {})").format(query, sql.SQL(self.type_name))
        return sql.SQL("ipai_platinum_core.cosine_distance(embedding, CAST({} AS real[]))").format(
            query
        )

    def prepare_search(self, s: ScopedSession) -> None:
        """pgvector ≥ 0.8 keeps scanning the HNSW index until k rows pass the row filters (RLS,
        model), instead of filtering only the first `ef_search` candidates."""
        if self.backend == "pgvector" and self.extension_version >= (0, 8):
            s.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")


def vector_column(s: ScopedSession, relation: str) -> VectorColumn:
    row = s.query(_COLUMN, [relation]).rows()
    if not row:
        raise ConfigError(
            f"`{relation}` has no embedding column (or you may not see it); run `ipai migrate`"
        )
    type_name, base, version = row[0]
    backend: VectorBackend = "pgvector" if base == "vector" else "array"
    return VectorColumn(relation, str(type_name), backend, _version(version))


def _version(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    return tuple(int(part) for part in text.split(".") if part.isdigit())
