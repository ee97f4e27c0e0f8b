"""MySQL and MariaDB sources: the base tables of one database (or the configured `tables`), full
or incremental by cursor, streamed with PyMySQL's unbuffered `SSCursor` + `fetchmany` into Arrow
batches, so memory holds one batch whatever the table size.

A stream's key is the table's primary key or, without one, a unique index over NOT NULL columns.
Types come from `information_schema.COLUMNS`: tinyint(1) → bool (the BOOLEAN convention: any
non-zero value is true); other integers → the smallest signed Arrow integer that holds them
(bigint unsigned → decimal(20,0)); decimal(p,s) → decimal128(p,s) (p > 38 → string); float,
double; date; datetime → timestamp[us]; timestamp → timestamp[us, UTC] (the session runs in UTC);
year → int16; bit → int64; binary and blobs → binary; json, enum, set, time and the text types →
string. A zero date (`0000-00-00`) reads as NULL.

Incremental reads `WHERE cursor >= <last max>`: rows sharing the last cursor value are re-read
and upserted unchanged, so none is skipped or duplicated (see `ipai_core.connectors.postgres`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from pydantic import Field

from ipai_core.connectors.base import (
    Column,
    Connector,
    DatabaseSourceOptions,
    Item,
    ReadRequest,
    StreamSchema,
    SyncMode,
)
from ipai_core.connectors.postgres import CursorMax
from ipai_core.connectors.registry import register
from ipai_core.errors import ConfigError, SourceError

_INTEGERS: dict[str, tuple[pa.DataType, pa.DataType]] = {  # (signed, unsigned)
    "tinyint": (pa.int16(), pa.int16()),
    "smallint": (pa.int16(), pa.int32()),
    "mediumint": (pa.int32(), pa.int32()),
    "int": (pa.int32(), pa.int64()),
    "integer": (pa.int32(), pa.int64()),
    "bigint": (pa.int64(), pa.decimal128(20, 0)),
}
_OTHER: dict[str, pa.DataType] = {
    "float": pa.float32(),
    "double": pa.float64(),
    "real": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "year": pa.int16(),
    "bit": pa.int64(),
    "binary": pa.binary(),
    "varbinary": pa.binary(),
    "tinyblob": pa.binary(),
    "blob": pa.binary(),
    "mediumblob": pa.binary(),
    "longblob": pa.binary(),
}
_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json", "enum", "set"}


class MysqlConfig(DatabaseSourceOptions):
    port: int = Field(default=3306, ge=1, le=65535)


@dataclass(frozen=True)
class MysqlColumn:
    name: str
    data_type: str
    type: pa.DataType
    nullable: bool = True

    @property
    def select(self) -> str:
        ident = quote(self.name)
        if self.data_type == "bit":
            return f"CAST({ident} AS UNSIGNED) AS {ident}"
        if pa.types.is_string(self.type) and self.data_type not in _TEXT:
            return f"CAST({ident} AS CHAR) AS {ident}"
        return ident

    def array(self, values: tuple[Any, ...]) -> pa.Array:
        if pa.types.is_boolean(self.type):
            values = tuple(None if v is None else bool(v) for v in values)
        elif pa.types.is_date(self.type) or pa.types.is_timestamp(self.type):
            values = tuple(None if isinstance(v, str) else v for v in values)  # zero dates
        if pa.types.is_timestamp(self.type) and self.type.tz:
            return pa.array(values, type=pa.timestamp("us")).cast(self.type)
        return pa.array(values, type=self.type)


@dataclass(frozen=True)
class MysqlTable:
    database: str
    name: str
    columns: tuple[MysqlColumn, ...]
    key: tuple[str, ...]
    cursor: str | None

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, c.nullable) for c in self.columns])

    def stream(self) -> StreamSchema:
        modes = {SyncMode.FULL_REFRESH} | ({SyncMode.INCREMENTAL} if self.cursor else set())
        return StreamSchema(
            name=self.name,
            columns=tuple(Column(c.name, c.type, c.nullable) for c in self.columns),
            primary_key=self.key,
            cursor_field=self.cursor,
            modes=frozenset(modes),
        )

    def column(self, name: str) -> MysqlColumn:
        return next(c for c in self.columns if c.name == name)

    def batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        values = list(zip(*rows, strict=True))
        arrays = [c.array(v) for c, v in zip(self.columns, values, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)


def mysql_arrow_type(
    data_type: str, column_type: str, precision: int | None, scale: int | None
) -> pa.DataType:
    """The Arrow type of a column from `information_schema.COLUMNS`."""
    if data_type == "tinyint" and column_type.startswith("tinyint(1)"):
        return pa.bool_()
    if data_type in _INTEGERS:
        return _INTEGERS[data_type]["unsigned" in column_type]
    if data_type in ("decimal", "numeric"):
        p = precision or 10
        return pa.decimal128(p, scale or 0) if p <= 38 else pa.string()
    return _OTHER.get(data_type, pa.string())


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


_TABLES = (
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
    " AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
)
_COLUMNS = (
    "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, IS_NULLABLE"
    " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
    " ORDER BY ORDINAL_POSITION"
)
_UNIQUE = (
    "SELECT INDEX_NAME, COLUMN_NAME, NULLABLE, SUB_PART FROM information_schema.STATISTICS"
    " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0"
    " ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX"
)


@register
class MysqlConnector(Connector[MysqlConfig]):
    """MySQL/MariaDB tables → bronze, full or incremental by cursor. Needs `pymysql`."""

    connector_type = "mysql"
    config_model = MysqlConfig

    _conn: Any = None
    _tables: dict[str, MysqlTable] | None = None

    def discover(self) -> list[StreamSchema]:
        return [t.stream() for t in self._catalog().values()]

    def read(self, request: ReadRequest) -> Iterator[Item]:
        import pymysql

        table = self._catalog()[request.stream.name]
        columns = ", ".join(c.select for c in table.columns)
        query = f"SELECT {columns} FROM {quote(table.name)}"  # noqa: S608 - quoted identifiers
        params: list[Any] = []
        last = (request.cursor or {}) if request.mode is SyncMode.INCREMENTAL else {}
        if table.cursor and last.get("column") == table.cursor:
            query += f" WHERE {quote(table.cursor)} >= %s"
            params.append(_cursor_param(last["value"], table.column(table.cursor).type))
        top = CursorMax(table.cursor)
        with (
            _source_errors(f"reading `{table.name}`"),
            self._connection().cursor(pymysql.cursors.SSCursor) as cur,
        ):
            cur.execute(query, params)
            while rows := cur.fetchmany(request.batch_rows):
                batch = table.batch(list(rows))
                top.see(batch)
                yield batch
        checkpoint = top.checkpoint()
        if checkpoint is not None:
            yield checkpoint

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- catalog -----------------------------------------------------------------------------------

    def _catalog(self) -> dict[str, MysqlTable]:
        if self._tables is None:
            with _source_errors(f"reading the catalog of `{self.config.database}`"):
                present = [str(r[0]) for r in self._query(_TABLES, self.config.database)]
                wanted = self.config.tables if self.config.tables is not None else present
                missing = [t for t in wanted if t not in present]
                if missing:
                    raise ConfigError(
                        f"table(s) `{', '.join(missing)}` not found in MySQL database "
                        f"`{self.config.database}`; it has: {', '.join(present[:30]) or 'none'}"
                    )
                stray = [t for t in self.config.cursor_fields if t not in wanted]
                if stray:
                    raise ConfigError(
                        f"`cursor_fields` names table(s) `{', '.join(stray)}` that are not synced"
                    )
                self._tables = {name: self._describe(name) for name in wanted}
        return self._tables

    def _describe(self, name: str) -> MysqlTable:
        db = self.config.database
        key = _key(self._query(_UNIQUE, db, name))
        if not key:
            raise ConfigError(
                f"table `{db}.{name}` has no primary key and no unique index over NOT NULL "
                "columns; bronze needs a key: add one at the source or leave the table out"
            )
        columns = tuple(
            MysqlColumn(
                str(col),
                str(dt).lower(),
                mysql_arrow_type(str(dt).lower(), str(ct).lower(), p, s),
                nullable == "YES" and col not in key,
            )
            for col, dt, ct, p, s, nullable in self._query(_COLUMNS, db, name)
        )
        cursor = self.config.cursor_fields.get(name)
        if cursor is not None and cursor not in {c.name for c in columns}:
            raise ConfigError(
                f"cursor column `{cursor}` is not a column of `{db}.{name}`; "
                f"it has: {', '.join(c.name for c in columns)}"
            )
        return MysqlTable(db, name, columns, key, cursor)

    # -- plumbing ----------------------------------------------------------------------------------

    def _query(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with self._connection().cursor() as cur:
            cur.execute(statement, params)
            return list(cur.fetchall())

    def _connection(self) -> Any:
        if self._conn is None:
            try:
                import pymysql
            except ImportError as exc:
                raise ConfigError(
                    "the `mysql` connector needs PyMySQL: `pip install pymysql`"
                ) from exc
            password = ""
            if self.config.password_secret is not None:
                if self.config.password_secret not in self.secrets:
                    raise ConfigError(
                        f"the password secret `{self.config.password_secret}` is not among the "
                        f"connector's secrets; add it with `--secret {self.config.password_secret}`"
                    )
                password = self.secrets[self.config.password_secret].reveal()
            where = (
                f"{self.config.user}@{self.config.host}:{self.config.port}/{self.config.database}"
            )
            with _source_errors(f"cannot connect to `{where}`"):  # never shows the password
                self._conn = pymysql.connect(
                    host=self.config.host,
                    port=self.config.port,
                    user=self.config.user,
                    password=password,
                    database=self.config.database,
                    charset="utf8mb4",
                    connect_timeout=self.config.connect_timeout_s,
                    autocommit=True,
                    init_command="SET time_zone = '+00:00'",
                )
        return self._conn


def _key(rows: list[tuple[Any, ...]]) -> tuple[str, ...]:
    """The primary key, else the first unique index whose columns are all NOT NULL and whole."""
    indexes: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        indexes.setdefault(str(row[0]), []).append(row)
    for columns in indexes.values():
        if all(c[1] is not None and c[2] != "YES" and c[3] is None for c in columns):
            return tuple(str(c[1]) for c in columns)
    return ()


@contextmanager
def _source_errors(what: str) -> Iterator[None]:
    """A PyMySQL error becomes a SourceError with MySQL's own message and code."""
    import pymysql

    try:
        yield
    except pymysql.err.MySQLError as exc:
        code, message = (*exc.args, None, None)[:2]
        detail = f"{message} (MySQL error {code})" if message else str(exc)
        raise SourceError(f"{what}: {detail}") from exc


def _cursor_param(value: Any, arrow: pa.DataType) -> Any:
    """A stored checkpoint → a query parameter PyMySQL escapes for the column's type."""
    if pa.types.is_timestamp(arrow):
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)
    if pa.types.is_date(arrow):
        return date.fromisoformat(str(value))
    if pa.types.is_decimal(arrow):
        return Decimal(str(value))
    return value
