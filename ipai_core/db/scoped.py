"""Queries run as a principal, the way PostgREST does it.

Each session is one transaction on a connection of the principal's login role (`logins`) that
starts with `SET LOCAL ROLE <db_role>` and `set_config('request.jwt.claims', <claims>, true)`, so
Postgres itself applies grants and RLS policies (which call `auth.uid()` / `auth.jwt()`). Both
settings end with the transaction, so a pooled connection never carries one user's identity into
another's session, and no statement run inside may change them (`statement_guard`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

from ipai_core.db.logins import login_for
from ipai_core.db.pool import Database
from ipai_core.db.principal import Principal
from ipai_core.db.statement_guard import check_statement
from ipai_core.errors import AccessDenied

Params = Sequence[Any] | Mapping[str, Any] | None

# PostgreSQL type OIDs → Polars types, so even an empty result has typed columns.
_POLARS_TYPES: dict[int, pl.DataType] = {
    16: pl.Boolean(),
    20: pl.Int64(),
    21: pl.Int16(),
    23: pl.Int32(),
    700: pl.Float32(),
    701: pl.Float64(),
    25: pl.String(),
    1043: pl.String(),
    1042: pl.String(),
    19: pl.String(),
    2950: pl.String(),
    114: pl.String(),
    3802: pl.String(),
    1082: pl.Date(),
    1114: pl.Datetime("us"),
    1184: pl.Datetime("us", "UTC"),
    26: pl.Int64(),
}
_INSUFFICIENT_PRIVILEGE = "42501"
_JSON_OIDS = {114, 3802}


class ScopedSession:
    """One transaction running as one principal. Obtain it from `session()`."""

    def __init__(self, conn: psycopg.Connection, principal: Principal) -> None:
        self._conn = conn
        self.principal = principal

    @property
    def connection(self) -> psycopg.Connection:
        """The underlying connection, inside this session's transaction and role (for COPY)."""
        return self._conn

    def query(self, statement: str | sql.Composable, params: Params = None) -> pl.DataFrame:
        """Run a statement that returns rows; the rows come back as a Polars DataFrame."""
        with self._conn.cursor() as cur:
            self._run(cur, statement, params)
            if cur.description is None:
                return pl.DataFrame()
            columns = _unique_names([col.name for col in cur.description])
            schema = {
                name: _POLARS_TYPES.get(c.type_code)
                for name, c in zip(columns, cur.description, strict=True)
            }
            json_columns = {i for i, c in enumerate(cur.description) if c.type_code in _JSON_OIDS}
            rows = [
                tuple(_plain(v, i in json_columns) for i, v in enumerate(row))
                for row in cur.fetchall()
            ]
        return _frame(columns, schema, rows)

    def execute(self, statement: str | sql.Composable, params: Params = None) -> int:
        """Run a statement for its effect; returns the affected row count."""
        with self._conn.cursor() as cur:
            self._run(cur, statement, params)
            return cur.rowcount

    def scalar(self, statement: str | sql.Composable, params: Params = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        with self._conn.cursor() as cur:
            self._run(cur, statement, params)
            row = cur.fetchone()
            return None if row is None else row[0]

    def _run(self, cur: psycopg.Cursor, statement: str | sql.Composable, params: Params) -> None:
        text = statement if isinstance(statement, str) else statement.as_string(self._conn)
        check_statement(text, principal=self.principal.label)
        try:
            cur.execute(statement, params)  # type: ignore[arg-type]
        except psycopg.errors.InsufficientPrivilege as exc:
            raise AccessDenied(
                f"the database refused this for `{self.principal.label}`: "
                f"{exc.diag.message_primary}. Ask an admin for the role that grants it "
                "(`ipai users grant`).",
                principal=self.principal.label,
                sqlstate=_INSUFFICIENT_PRIVILEGE,
            ) from exc


@contextmanager
def session(db: Database, principal: Principal) -> Iterator[ScopedSession]:
    """A transaction as `principal`; commits on success, rolls back on any error.

    A service-role session is audited first, in a transaction of its own, so the record of the
    access stays even when the session's own work fails and rolls back.
    """
    if principal.db_role == "service_role":
        _audit_service_access(db, principal)
    with db.connection(login_for(principal)) as conn, conn.transaction():
        _become(conn, principal)
        yield ScopedSession(conn, principal)


def _become(conn: psycopg.Connection, principal: Principal) -> None:
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(principal.db_role)))
    conn.execute(
        "SELECT set_config('request.jwt.claims', %s, true)", [json.dumps(dict(principal.claims))]
    )
    if principal.statement_timeout_ms is not None:
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true)",
            [str(principal.statement_timeout_ms)],
        )


def _audit_service_access(db: Database, principal: Principal) -> None:
    with db.connection("service") as conn, conn.transaction():
        _become(conn, principal)
        conn.execute(
            "SELECT public.ipai_audit('service_access', 'database', NULL,"
            " 'service_role_session', %s)",
            [json.dumps({"reason": principal.reason})],
        )


def _unique_names(names: list[str]) -> list[str]:
    """Column names made unique (`?column?`, `?column?_2`), as a DataFrame needs."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return result


def _plain(value: Any, is_json: bool) -> Any:
    """Values Polars cannot hold natively become text: UUIDs, and JSON documents (kept as their
    JSON text, so `json.loads` gives back exactly what the database holds)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if is_json and value is not None:
        return json.dumps(value, default=str)
    return value


def _frame(
    columns: list[str], schema: Mapping[str, pl.DataType | None], rows: list[tuple[Any, ...]]
) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame({c: pl.Series(c, [], dtype=schema[c] or pl.String()) for c in columns})
    return pl.DataFrame(
        [
            pl.Series(c, [row[i] for row in rows], dtype=schema[c], strict=False)
            for i, c in enumerate(columns)
        ]
    )
