"""Bronze tables: created from a stream's declared columns, evolved when the source drifts.

Layout: the stream's typed columns, then `_ipai_synced_at`, `_ipai_run_id`, `_ipai_deleted`;
primary key as declared. A new source column is added; a type change is widened when every
existing value fits the wider type, and refused otherwise (`SchemaDriftError`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from psycopg import sql

from ipai_core.connectors.base import StreamSchema
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, SchemaDriftError
from ipai_core.sync.pgtypes import pg_type, widening

SYSTEM_COLUMNS = ("_ipai_synced_at", "_ipai_run_id", "_ipai_deleted")
# Room left on each page for the new versions of its rows: an incremental merge then updates in
# place (HOT: no primary-key index entry, no index page written), so its cost stays flat as the
# table grows instead of touching one more index page per changed row.
FILLFACTOR = 90
_IDENT = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class BronzeTable:
    schema: str
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]

    @property
    def ident(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class DriftChange:
    column: str
    change: str  # "added" or "widened"
    old_type: str | None
    new_type: str


def table_name(prefix: str, stream: str) -> str:
    """A safe bronze table name for a stream (`account.move` → `account_move`)."""
    name = _IDENT.sub("_", f"{prefix}{stream}".lower()).strip("_")
    if not name or len(name) > 63:
        raise ConfigError(f"stream `{stream}` gives no valid table name (got `{name}`)")
    return name


def ensure_bronze_table(
    s: ScopedSession, schema: str, name: str, stream: StreamSchema, *, connector: str
) -> tuple[BronzeTable, list[DriftChange]]:
    """Create the table or bring it in line with the stream; returns the drift applied."""
    existing = existing_columns(s, schema, name)
    table = BronzeTable(schema, name, tuple(c.name for c in stream.columns), stream.primary_key)
    if not existing:
        _create(s, table, stream)
        return table, []
    changes = _evolve(s, table, stream, existing)
    for change in changes:
        s.execute(
            "SELECT public.ipai_audit('schema_change', 'table', NULL, %s, %s)",
            [
                f"column_{change.change}",
                json.dumps(
                    {
                        "table": table.qualified_name,
                        "column": change.column,
                        "old_type": change.old_type,
                        "new_type": change.new_type,
                        "connector": connector,
                    }
                ),
            ],
        )
    return table, changes


def existing_columns(s: ScopedSession, schema: str, name: str) -> dict[str, str]:
    rows = s.query(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " WHERE a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))"
        "   AND a.attnum > 0 AND NOT a.attisdropped",
        [schema, name],
    ).rows()
    return {str(col): str(typ) for col, typ in rows}


def _create(s: ScopedSession, table: BronzeTable, stream: StreamSchema) -> None:
    if not stream.primary_key:
        raise ConfigError(f"stream `{stream.name}` declares no primary key; bronze needs one")
    columns: list[sql.Composable] = [
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type(c.type)))
        for c in stream.columns
    ]
    columns += [
        sql.SQL("_ipai_synced_at timestamptz NOT NULL DEFAULT now()"),
        sql.SQL("_ipai_run_id uuid"),
        sql.SQL("_ipai_deleted boolean NOT NULL DEFAULT false"),
        sql.SQL("PRIMARY KEY ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, stream.primary_key))
        ),
    ]
    s.execute(
        sql.SQL("CREATE TABLE {} ({}) WITH (fillfactor = {})").format(
            table.ident, sql.SQL(", ").join(columns), sql.Literal(FILLFACTOR)
        )
    )
    s.execute(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            table.ident,
            sql.Literal(
                f"Bronze: raw `{stream.name}` rows as synced by ipai "
                "(soft deletes in _ipai_deleted)."
            ),
        )
    )
    s.execute("SELECT public.ipai_guard_bronze_table(%s::regclass)", [table.qualified_name])


def _evolve(
    s: ScopedSession, table: BronzeTable, stream: StreamSchema, existing: dict[str, str]
) -> list[DriftChange]:
    changes = []
    for column in stream.columns:
        wanted = pg_type(column.type)
        current = existing.get(column.name)
        if current is None:
            s.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    table.ident, sql.Identifier(column.name), sql.SQL(wanted)
                )
            )
            changes.append(DriftChange(column.name, "added", None, wanted))
            continue
        target = widening(current, wanted)
        if target is None:
            raise SchemaDriftError(
                table=table.qualified_name, column=column.name, current=current, incoming=wanted
            )
        if target != current:
            s.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
                    table.ident,
                    sql.Identifier(column.name),
                    sql.SQL(target),
                    sql.Identifier(column.name),
                    sql.SQL(target),
                )
            )
            changes.append(DriftChange(column.name, "widened", current, target))
    return changes
