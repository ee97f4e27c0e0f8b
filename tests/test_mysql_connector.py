"""The mysql connector against the MariaDB at 127.0.0.1:3306 (root, empty password): a scratch
database per test, synced into the workspace; full, incremental with cursor ties, all-tables
discovery, types, bad input. Skipped with the reason when no server answers there."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.sync.engine import RunResult, run_connector
from ipai_core.vault import open_vault

pymysql = pytest.importorskip("pymysql", reason="the mysql connector needs PyMySQL")

HOST, PORT, USER = "127.0.0.1", 3306, "root"
SCHEMA = "ipai_bronze_retail"
Row = tuple[Any, ...]

SOURCE_DDL = [
    """CREATE TABLE orders (
        id INT PRIMARY KEY,
        amount DECIMAL(12,2) NOT NULL,
        ratio DOUBLE,
        note VARCHAR(200),
        sparse TEXT,
        paid TINYINT(1),
        qty SMALLINT UNSIGNED,
        day DATE,
        placed DATETIME(6),
        changed TIMESTAMP(6) NULL,
        meta JSON,
        kind ENUM('a', 'b'),
        version BIGINT NOT NULL
    )""",
    "CREATE TABLE skus (code VARCHAR(10) NOT NULL, label TEXT, UNIQUE KEY (code))",
    "CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100",
]


def _order(i: int, version: int = 1, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "amount": Decimal(f"{i}0.25"),
        "ratio": i / 3,
        "note": 'it\'s "quoted", a comma' if i % 2 else f"plain {i}",
        "sparse": "rare" if i == 2 else None,
        "paid": i % 2,
        "qty": 60000 + i,
        "day": date(2025, 1, i),
        "placed": datetime(2025, 1, i, 10, 30, 0, 250000),
        "changed": datetime(2025, 2, i, 8, 0, 0),
        "meta": json.dumps({"n": i}),
        "kind": "a",
        "version": version,
    }
    return {**row, **overrides}


def insert_orders(conn: Any, rows: list[dict[str, Any]]) -> None:
    with conn.cursor() as cur:
        for row in rows:
            names = ", ".join(row)
            marks = ", ".join(["%s"] * len(row))
            cur.execute(f"INSERT INTO orders ({names}) VALUES ({marks})", list(row.values()))


@pytest.fixture
def mariadb() -> Iterator[tuple[str, Any]]:
    """(database, autocommit connection) of a scratch database, dropped afterwards."""
    try:
        server = pymysql.connect(host=HOST, port=PORT, user=USER, password="", connect_timeout=3)
    except pymysql.err.MySQLError as exc:
        pytest.skip(f"no MySQL/MariaDB at {HOST}:{PORT} for user {USER} ({exc})")
    name = f"ipai_test_{secrets.token_hex(4)}"
    with server.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    conn = pymysql.connect(
        host=HOST, port=PORT, user=USER, password="", database=name, autocommit=True
    )
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        for statement in SOURCE_DDL:
            cur.execute(statement)
        cur.execute("INSERT INTO skus VALUES ('A1', 'first'), ('B2', NULL)")
    try:
        yield name, conn
    finally:
        conn.close()
        with server.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        server.close()


Adder = Callable[..., str]


@pytest.fixture
def add(lakehouse: Lakehouse, request: pytest.FixtureRequest) -> Adder:
    def make(database: str, refs: tuple[str, ...] = (), **config: Any) -> str:
        name = f"my_{request.node.name[5:28]}_{secrets.token_hex(2)}".lower()
        full = {
            "target_schema": SCHEMA,
            "table_prefix": f"{name}_",
            "host": HOST,
            "port": PORT,
            "database": database,
            "user": USER,
            **config,
        }
        with lakehouse.session(Principal.service("test: add mysql connector")) as s:
            store.add_connector(
                s, name=name, connector_type="mysql", config=full, secret_refs=list(refs)
            )
        return name

    return make


def bronze(owner: psycopg.Connection, name: str, table: str, columns: str = "*") -> list[Row]:
    return owner.execute(f'SELECT {columns} FROM {SCHEMA}."{name}_{table}" ORDER BY 1').fetchall()


def ok(result: RunResult) -> RunResult:
    assert result.ok, result.error
    return result


def test_full_then_incremental_with_types_and_cursor_ties(
    lakehouse: Lakehouse, mariadb: tuple[str, Any], add: Adder, owner_conn: psycopg.Connection
) -> None:
    database, src = mariadb
    insert_orders(src, [_order(i) for i in range(2, 6)])
    name = add(database, tables=["orders"], cursor_fields={"orders": "version"}, batch_rows=100)
    first = ok(run_connector(lakehouse, name))
    assert first.streams["orders"].rows_written == 4

    types = dict(
        owner_conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            [SCHEMA, f"{name}_orders"],
        ).fetchall()
    )
    assert types["amount"] == "numeric" and types["ratio"] == "double precision"
    assert types["paid"] == "boolean" and types["qty"] == "integer" and types["day"] == "date"
    assert types["placed"] == "timestamp without time zone"
    assert types["changed"] == "timestamp with time zone"
    assert types["meta"] == types["kind"] == types["note"] == "text"
    rows = {r[0]: r for r in bronze(owner_conn, name, "orders")}
    three = rows[3]
    assert three[1:8] == (
        Decimal("30.25"),
        1.0,
        'it\'s "quoted", a comma',
        None,
        True,
        60003,
        date(2025, 1, 3),
    )
    assert three[8] == datetime(2025, 1, 3, 10, 30, 0, 250000)
    assert three[9] == datetime(2025, 2, 3, 8, 0, tzinfo=UTC)
    assert json.loads(three[10]) == {"n": 3} and three[11] == "a"
    assert [r[4] for r in rows.values()] == ["rare", None, None, None]
    assert rows[2][4] == "rare" and rows[2][5] is False

    # Same cursor value as the checkpoint with a lower key, an update, a new row.
    insert_orders(src, [_order(1), _order(6, version=2)])
    with src.cursor() as cur:
        cur.execute("UPDATE orders SET amount = 99, version = 2 WHERE id = 4")
    second = ok(run_connector(lakehouse, name))
    assert second.streams["orders"].rows_written == 3
    rows = {r[0]: r for r in bronze(owner_conn, name, "orders")}
    assert sorted(rows) == [1, 2, 3, 4, 5, 6] and rows[4][1] == Decimal("99.00")

    insert_orders(src, [_order(7, version=2)])
    third = ok(run_connector(lakehouse, name))
    assert third.streams["orders"].rows_read == 3 and third.streams["orders"].rows_written == 1


def test_all_tables_are_discovered_and_refreshed(
    lakehouse: Lakehouse, mariadb: tuple[str, Any], add: Adder, owner_conn: psycopg.Connection
) -> None:
    database, src = mariadb
    insert_orders(src, [_order(1), _order(2)])
    name = add(database)
    result = ok(run_connector(lakehouse, name))
    assert sorted(result.streams) == ["orders", "skus"], "base tables only, not the view"
    assert bronze(owner_conn, name, "skus", "code, label") == [("A1", "first"), ("B2", None)]
    with src.cursor() as cur:
        cur.execute("DELETE FROM skus WHERE code = 'A1'")
    again = ok(run_connector(lakehouse, name))
    assert again.streams["skus"].rows_deleted == 1


def test_unknown_tables_and_wrong_passwords_fail_clearly(
    lakehouse: Lakehouse, mariadb: tuple[str, Any], add: Adder
) -> None:
    database, _ = mariadb
    unknown = run_connector(lakehouse, add(database, tables=["orders", "no_such_table"]))
    assert not unknown.ok and unknown.error is not None and "no_such_table" in unknown.error

    wrong = f"wrong-{secrets.token_hex(8)}"
    open_vault(lakehouse).put("mysql_wrong/password", wrong)
    name = add(database, refs=("mysql_wrong/password",), password_secret="mysql_wrong/password")
    result = run_connector(lakehouse, name)
    assert not result.ok and result.error is not None and "Access denied" in result.error
    with lakehouse.session(Principal.service("test: run record")) as s:
        run = store.run_history(s, name)[0]
    assert run.error_message is not None and wrong not in run.error_message
