"""The SQL of one embedding table, built from its registry row and its text view's columns:
which rows need embedding (new, changed source row, or another model), the upsert, and the
deletion of rows whose entity is gone. Identifiers come from the registry, which only
migrations write, and are quoted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError
from ipai_core.features.registry import FeatureSet, qualified

# Columns of an embedding table that the refresh fills itself (the rest come from the text view).
_DERIVED = ("source_hash", "model", "embedding", "embedded_at")


@dataclass(frozen=True)
class EmbeddingTable:
    """The SQL of one embedding set, built from its registry row and its text view's columns."""

    feature_set: FeatureSet
    columns: tuple[str, ...]  # the text view's columns, copied into the table

    @classmethod
    def read(cls, s: ScopedSession, feature_set: FeatureSet) -> EmbeddingTable:
        if feature_set.text_view is None:
            raise ConfigError(f"feature set `{feature_set.name}` is not an embedding set")
        view = s.query(sql.SQL("SELECT * FROM {} LIMIT 0").format(qualified(feature_set.text_view)))
        columns = tuple(view.columns)
        missing = {"text", *feature_set.entity_key} - set(columns)
        if missing or set(columns) & set(_DERIVED):
            raise ConfigError(
                f"text view `{feature_set.text_view}` of `{feature_set.name}` must have the "
                f"columns text and {', '.join(feature_set.entity_key)}, and none of "
                f"{', '.join(_DERIVED)}; it has {', '.join(columns)}"
            )
        return cls(feature_set, columns)

    @property
    def _key(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier("v", k) for k in self.feature_set.entity_key)

    def _key_match(self) -> sql.Composable:
        return sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier("v", k), sql.Identifier("e", k))
            for k in self.feature_set.entity_key
        )

    def delete_gone(self) -> sql.Composable:
        return sql.SQL(
            "DELETE FROM {table} e WHERE NOT EXISTS "
            "(SELECT 1 FROM {view} v WHERE {match} AND v.text <> '')"
        ).format(
            table=qualified(self.feature_set.relation),
            view=qualified(str(self.feature_set.text_view)),
            match=self._key_match(),
        )

    def pending(
        self, s: ScopedSession, model: str, batch_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Batches of text-view rows to embed, in key order (keyset paging: each batch starts
        after the last key of the one before)."""
        after: tuple[Any, ...] | None = None
        while True:
            rows = s.query(
                self._pending_sql(after is not None), self._params(model, after, batch_size)
            )
            if rows.is_empty():
                return
            batch = rows.to_dicts()
            yield batch
            after = tuple(batch[-1][k] for k in self.feature_set.entity_key)

    def _pending_sql(self, paged: bool) -> sql.Composable:
        keys = self.feature_set.entity_key
        page: sql.Composable = sql.SQL("")
        if paged:
            page = sql.SQL(" AND ({}) > ({})").format(
                self._key, sql.SQL(", ").join(sql.Placeholder() * len(keys))
            )
        return sql.SQL(
            "SELECT v.*, md5(v::text) AS source_hash FROM {view} v"
            " LEFT JOIN {table} e ON {match}"
            " WHERE v.text <> '' AND (e.source_hash IS NULL OR e.source_hash <> md5(v::text)"
            " OR e.model <> %s){page} ORDER BY {key} LIMIT %s"
        ).format(
            view=qualified(str(self.feature_set.text_view)),
            table=qualified(self.feature_set.relation),
            match=self._key_match(),
            page=page,
            key=self._key,
        )

    @staticmethod
    def _params(model: str, after: tuple[Any, ...] | None, batch_size: int) -> list[Any]:
        return [model, *(after or ()), batch_size]

    def upsert(
        self,
        s: ScopedSession,
        batch: list[dict[str, Any]],
        vectors: list[list[float]],
        model: str,
    ) -> None:
        names = [*self.columns, "source_hash", "model", "embedding"]
        keys = self.feature_set.entity_key
        statement = sql.SQL(
            "INSERT INTO {table} ({names}, embedded_at) VALUES ({values}, now())"
            " ON CONFLICT ({keys}) DO UPDATE SET {updates}, embedded_at = now()"
        ).format(
            table=qualified(self.feature_set.relation),
            names=sql.SQL(", ").join(map(sql.Identifier, names)),
            values=sql.SQL(", ").join(
                [*(sql.Placeholder() for _ in names[:-1]), sql.SQL("%s::double precision[]")]
            ),
            keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
            updates=sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n))
                for n in names
                if n not in keys
            ),
        )
        params = [
            [*(row[c] for c in self.columns), row["source_hash"], model, vector]
            for row, vector in zip(batch, vectors, strict=True)
        ]
        with s.connection.cursor() as cur:
            cur.executemany(statement, params)
