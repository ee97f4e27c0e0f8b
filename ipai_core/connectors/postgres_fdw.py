"""A PostgreSQL source the workspace database pulls itself, through `postgres_fdw`: no row passes
through Python (the PRD's FDW pattern).

Each run, as the workspace owner (`RunContext.owner_url`; the sync's service role cannot create
servers), in one transaction: `CREATE EXTENSION IF NOT EXISTS postgres_fdw`, then a server
`ipai_fdw_<connector>` with a user mapping for `service_role` (the password from the vault), and
a private schema `ipai_fdw_<connector>` holding one foreign table per synced table, readable by
`service_role` only. All three are dropped and recreated, so a config or source change is picked
up. The foreign tables are declared with the bronze column types (not `IMPORT FOREIGN SCHEMA`):
a source enum or domain the workspace lacks would make an import fail, and postgres_fdw reads
every value through its text form anyway.

`read` yields a `ServerSideLoad` — `SELECT … FROM ipai_fdw_<connector>.<table>` — that the engine
runs as `INSERT … SELECT` inside the stream's transaction, through the same merge, soft-delete and
cursor path as batches. Incremental streams read `cursor >= last` (tie-safe like the `postgres`
connector); the checkpoint is the source's max cursor read just before the load, so it never
passes a row the load did not see. Discovery (columns, keys) reads the source catalog directly.

The user-mapping password is part of a DDL statement: keep `log_statement` below `ddl` on the
workspace database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from ipai_core.connectors.base import (
    Connector,
    Item,
    ReadRequest,
    ServerSideLoad,
    StreamSchema,
    SyncMode,
)
from ipai_core.connectors.postgres import (
    CursorMax,
    PostgresSourceOptions,
    SourceTable,
    connect_source,
    cursor_filter,
    discover_tables,
    source_errors,
    source_password,
)
from ipai_core.connectors.registry import register
from ipai_core.errors import ConfigError, SourceError
from ipai_core.sync.pgtypes import pg_type

SERVICE_ROLE = "service_role"


class PostgresFdwConfig(PostgresSourceOptions):
    """The same source options as the `postgres` connector; rows move server to server."""


@register
class PostgresFdwConnector(Connector[PostgresFdwConfig]):
    """PostgreSQL tables → bronze by `INSERT … SELECT` over postgres_fdw: full or incremental."""

    connector_type = "postgres_fdw"
    config_model = PostgresFdwConfig

    _conn: psycopg.Connection | None = None
    _tables: dict[str, SourceTable] | None = None
    _prepared = False

    def discover(self) -> list[StreamSchema]:
        modes = {SyncMode.FULL_REFRESH, SyncMode.INCREMENTAL}
        return [t.stream(modes) for t in self._catalog().values()]

    def read(self, request: ReadRequest) -> Iterator[Item]:
        table = self._catalog()[request.stream.name]
        self._prepare()
        foreign = sql.Identifier(self.local_schema, table.name)
        not_null = sql.SQL(" AND ").join(
            sql.SQL("{} IS NOT NULL").format(sql.Identifier(k)) for k in table.key
        )
        where: sql.Composable = sql.SQL(" WHERE {}").format(not_null)
        params: list[Any] = []
        top = CursorMax(table.cursor)
        if table.cursor is not None:
            if request.mode is SyncMode.INCREMENTAL:
                params = cursor_filter(table, request.cursor)[1]
            if params:
                where = sql.SQL("{} AND {} >= %s").format(where, sql.Identifier(table.cursor))
            top.value = self._source_max(table, table.cursor)  # before the load: never past it
        columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
        query = sql.SQL("SELECT {} FROM {}{}").format(columns, foreign, where)
        yield ServerSideLoad(query, tuple(params))
        checkpoint = top.checkpoint()
        if checkpoint is not None:
            yield checkpoint

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def local_schema(self) -> str:
        """`ipai_fdw_<connector>`: the server and the schema of foreign tables in the workspace."""
        name = self.context.connector_name if self.context is not None else "adhoc"
        return ("ipai_fdw_" + re.sub(r"[^a-z0-9_]+", "_", name.lower()))[:63]

    # -- setup as the workspace owner -----------------------------------------------------------

    def _prepare(self) -> None:
        if self._prepared:
            return
        owner_url = self.context.owner_url if self.context is not None else None
        if owner_url is None:
            raise ConfigError(
                "postgres_fdw needs the workspace owner's connection; run the connector "
                "with `ipai connectors run` (run_connector), which provides it"
            )
        try:
            with psycopg.connect(owner_url, autocommit=True) as owner, owner.transaction():
                _require_extension(owner)
                for statement in self._setup_statements():
                    owner.execute(statement)
        except psycopg.Error as exc:
            raise SourceError(
                f"cannot set up postgres_fdw server `{self.local_schema}`: "
                f"{exc.diag.message_primary or exc}"
            ) from exc
        self._prepared = True

    def _setup_statements(self) -> list[sql.Composed]:
        name = sql.Identifier(self.local_schema)
        server_options = {
            "host": self.config.host,
            "port": str(self.config.port),
            "dbname": self.config.database,
            "sslmode": self.config.sslmode,
            "connect_timeout": str(self.config.connect_timeout_s),
        }
        mapping = {"user": self.config.user}
        password = source_password(self.config, self.secrets)
        if password is not None:
            mapping["password"] = password
        statements: list[sql.Composed] = [
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name),
            sql.SQL("DROP SERVER IF EXISTS {} CASCADE").format(name),
            sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER postgres_fdw OPTIONS ({})").format(
                name, _options(server_options)
            ),
            sql.SQL("CREATE USER MAPPING FOR {} SERVER {} OPTIONS ({})").format(
                sql.Identifier(SERVICE_ROLE), name, _options(mapping)
            ),
            sql.SQL("CREATE SCHEMA {}").format(name),
            sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                name,
                sql.Literal(
                    f"Foreign tables of source `{self.config.database}` for the postgres_fdw "
                    "connector; recreated on each run, readable by the sync service role only."
                ),
            ),
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(name),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, sql.Identifier(SERVICE_ROLE)),
        ]
        for table in self._catalog().values():
            statements.append(self._foreign_table(table))
        statements.append(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                name, sql.Identifier(SERVICE_ROLE)
            )
        )
        return statements

    def _foreign_table(self, table: SourceTable) -> sql.Composed:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {} OPTIONS (column_name {})").format(
                sql.Identifier(c.name), sql.SQL(pg_type(c.type)), sql.Literal(c.name)
            )
            for c in table.columns
        )
        return sql.SQL("CREATE FOREIGN TABLE {} ({}) SERVER {} OPTIONS ({})").format(
            sql.Identifier(self.local_schema, table.name),
            columns,
            sql.Identifier(self.local_schema),
            _options({"schema_name": table.schema, "table_name": table.name}),
        )

    # -- the source -----------------------------------------------------------------------------

    def _source_max(self, table: SourceTable, cursor: str) -> Any:
        """The largest cursor value before the load: a checkpoint never past what it loaded."""
        query = sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(cursor), table.ident)
        with source_errors(f"reading the cursor of `{table.schema}.{table.name}`"):
            row = self._connection().execute(query).fetchone()
        return row[0] if row else None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect_source(self.config, self.secrets)
        return self._conn

    def _catalog(self) -> dict[str, SourceTable]:
        if self._tables is None:
            self._tables = {t.name: t for t in discover_tables(self._connection(), self.config)}
        return self._tables


def _require_extension(owner: psycopg.Connection) -> None:
    row = owner.execute(
        "SELECT installed_version IS NOT NULL FROM pg_available_extensions"
        " WHERE name = 'postgres_fdw'"
    ).fetchone()
    if row is None:
        raise ConfigError(
            "the workspace database has no `postgres_fdw` extension available; install "
            "PostgreSQL's contrib package there, or use connector type `postgres`"
        )
    if not row[0]:
        owner.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")


def _options(values: dict[str, str]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in values.items()
    )
