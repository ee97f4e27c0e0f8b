"""Lists lakehouse objects as seen by one principal (its grants and RLS decide the row counts)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql

from ipai_core.db.scoped import ScopedSession

LAKEHOUSE_SCHEMA = re.compile(r"^ipai_(bronze|silver|gold|platinum)_([a-z0-9_]+)$")
# Exact counts are cheap below this many rows (planner estimate); above it we show the estimate.
EXACT_COUNT_LIMIT = 1_000_000

KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}


@dataclass(frozen=True)
class CatalogSchema:
    name: str
    layer: str
    domain: str
    comment: str | None


@dataclass(frozen=True)
class CatalogObject:
    schema: str
    name: str
    kind: str
    comment: str | None
    rls_enabled: bool
    policies: int
    readable: bool
    row_count: int | None
    row_count_is_estimate: bool

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


def list_schemas(s: ScopedSession) -> list[CatalogSchema]:
    """Lakehouse schemas (bronze → platinum, by domain) and `public` for the control plane."""
    rows = s.query(
        "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace"
        " WHERE nspname ~ '^ipai_(bronze|silver|gold|platinum)_' OR nspname = 'public'"
    ).rows()
    schemas = [_schema(name, comment) for name, comment in rows]
    order = {"bronze": 0, "silver": 1, "gold": 2, "platinum": 3, "control": 4}
    return sorted(schemas, key=lambda sc: (order[sc.layer], sc.domain))


def list_objects(s: ScopedSession, schema: str | None = None) -> list[CatalogObject]:
    """Tables, views and materialized views of the lakehouse and the `public.ipai_*` control
    plane, with row counts as this session's principal sees them (None: not readable)."""
    rows = s.query(
        """
        SELECT n.nspname, c.relname, c.relkind::text, obj_description(c.oid, 'pg_class'),
               c.relrowsecurity, (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),
               has_table_privilege(c.oid, 'SELECT'), c.reltuples::bigint
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
           AND (n.nspname ~ '^ipai_(bronze|silver|gold|platinum)_'
                OR (n.nspname = 'public' AND c.relname LIKE 'ipai\\_%%'))
           AND (%(schema)s::text IS NULL OR n.nspname = %(schema)s::text)
         ORDER BY n.nspname, c.relname
        """,
        {"schema": schema},
    ).rows()
    return [_object(s, *row) for row in rows]


def _object(
    s: ScopedSession,
    schema: str,
    name: str,
    relkind: str,
    comment: str | None,
    rls: bool,
    policies: int,
    readable: bool,
    estimate: int,
) -> CatalogObject:
    count: int | None = None
    is_estimate = False
    if readable and estimate > EXACT_COUNT_LIMIT:
        count, is_estimate = estimate, True
    elif readable:
        count = int(
            s.scalar(
                sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            )
        )
    return CatalogObject(
        schema=schema,
        name=name,
        kind=KINDS[relkind],
        comment=comment,
        rls_enabled=bool(rls),
        policies=int(policies),
        readable=bool(readable),
        row_count=count,
        row_count_is_estimate=is_estimate,
    )


def _schema(name: str, comment: str | None) -> CatalogSchema:
    match = LAKEHOUSE_SCHEMA.match(name)
    if match is None:
        return CatalogSchema(name=name, layer="control", domain="platform", comment=comment)
    return CatalogSchema(name=name, layer=match[1], domain=match[2], comment=comment)
