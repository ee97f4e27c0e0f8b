"""The postgres_fdw connector: the workspace database pulls a source database on the embedded
server itself (INSERT … SELECT over postgres_fdw); no row passes through Python. Full refresh with
soft deletes, incremental with cursor ties, the setup it leaves behind. Skipped with the reason
where the workspace database has no postgres_fdw."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.connectors.base import Checkpoint, ReadRequest, RunContext, ServerSideLoad, SyncMode
from ipai_core.connectors.postgres_fdw import PostgresFdwConfig, PostgresFdwConnector
from ipai_core.sync.engine import RunResult, run_connector
from ipai_core.vault import SecretValue, open_vault

SCHEMA = "ipai_bronze_erp"
Row = tuple[Any, ...]


@pytest.fixture(autouse=True)
def _needs_postgres_fdw(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgres_fdw'"
        ).fetchone()
    if found is None:
        pytest.skip("the workspace PostgreSQL has no postgres_fdw extension (contrib) installed")
    if not conninfo_to_dict(database_url).get("password"):
        pytest.skip(
            "the test server uses trust auth; postgres_fdw refuses a non-superuser mapping "
            "whose remote asks no password"
        )


@pytest.fixture
def source(new_database: Callable[[], str]) -> Iterator[tuple[str, psycopg.Connection]]:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TYPE mood AS ENUM ('calm', 'busy');"
            " CREATE TABLE lines (id bigint PRIMARY KEY, qty integer, price numeric(10,3),"
            " label text, mood mood, doc jsonb, version integer NOT NULL);"
            " INSERT INTO lines SELECT g, g, g * 1.5, 'it''s ' || g,"
            " CASE WHEN g % 2 = 0 THEN 'busy'::mood END, jsonb_build_object('g', g), 1"
            " FROM generate_series(1, 500) g"
        )
        yield url, conn


def fdw_config(url: str, **config: Any) -> dict[str, Any]:
    info = conninfo_to_dict(url)
    return {
        "target_schema": SCHEMA,
        "host": info.get("host", "127.0.0.1"),
        "port": int(info.get("port", 5432)),
        "database": info["dbname"],
        "user": info.get("user", "postgres"),
        "sslmode": "disable",
        **config,
    }


@pytest.fixture
def add(lakehouse: Lakehouse, request: pytest.FixtureRequest) -> Callable[..., str]:
    def make(url: str, **config: Any) -> str:
        name = f"fdw_{request.node.name[5:28]}_{secrets.token_hex(2)}".lower()
        secret = f"{name}/password"
        open_vault(lakehouse).put(secret, str(conninfo_to_dict(url)["password"]))
        full = fdw_config(url, table_prefix=f"{name}_", password_secret=secret, **config)
        with lakehouse.session(Principal.service("test: add fdw connector")) as s:
            store.add_connector(
                s, name=name, connector_type="postgres_fdw", config=full, secret_refs=[secret]
            )
        return name

    return make


def bronze(owner: psycopg.Connection, name: str, columns: str = "*") -> list[Row]:
    return owner.execute(f'SELECT {columns} FROM {SCHEMA}."{name}_lines" ORDER BY 1').fetchall()


def ok(result: RunResult) -> RunResult:
    assert result.ok, result.error
    return result


def test_rows_land_without_passing_through_python_and_refresh_soft_deletes(
    lakehouse: Lakehouse,
    source: tuple[str, psycopg.Connection],
    add: Callable[..., str],
    owner_conn: psycopg.Connection,
) -> None:
    url, src = source
    name = add(url, mode="full_refresh")
    first = ok(run_connector(lakehouse, name))
    stats = first.streams["lines"]
    assert (stats.rows_read, stats.rows_written, stats.bytes_read) == (500, 500, 0)
    rows = bronze(owner_conn, name, "id, qty, price, label, mood, doc::jsonb, _ipai_deleted")
    assert rows[1] == (2, 2, Decimal("3.000"), "it's 2", "busy", {"g": 2}, False)
    assert rows[0][4] is None

    src.execute("DELETE FROM lines WHERE id > 490; UPDATE lines SET label = 'new' WHERE id = 1")
    second = ok(run_connector(lakehouse, name))
    assert (second.streams["lines"].rows_written, second.streams["lines"].rows_deleted) == (1, 10)
    assert bronze(owner_conn, name, "id, label")[0] == (1, "new")

    schema = f"ipai_fdw_{name}"
    grants = owner_conn.execute(
        "SELECT has_schema_privilege('service_role', %s, 'USAGE'),"
        " has_schema_privilege('authenticated', %s, 'USAGE')",
        [schema, schema],
    ).fetchone()
    assert grants == (True, False), "the foreign tables are for the sync service role only"


def test_incremental_reads_from_the_cursor_and_keeps_ties(
    lakehouse: Lakehouse,
    source: tuple[str, psycopg.Connection],
    add: Callable[..., str],
    owner_conn: psycopg.Connection,
) -> None:
    url, src = source
    name = add(url, cursor_fields={"lines": "version"})
    ok(run_connector(lakehouse, name))
    src.execute("INSERT INTO lines VALUES (0, 0, 0, 'tie', NULL, NULL, 1)")  # the checkpoint value
    src.execute("UPDATE lines SET qty = -1, version = 2 WHERE id = 7")
    second = ok(run_connector(lakehouse, name))
    assert second.streams["lines"].rows_written == 2 and second.streams["lines"].bytes_read == 0
    assert bronze(owner_conn, name, "id, qty")[:1] == [(0, 0)]
    assert (7, -1) in bronze(owner_conn, name, "id, qty")
    third = ok(run_connector(lakehouse, name))
    assert third.streams["lines"].rows_read == 1, "only the row at the checkpoint value again"


def test_read_yields_only_a_server_side_load(
    source: tuple[str, psycopg.Connection], database_url: str
) -> None:
    url, _ = source
    config = PostgresFdwConfig.model_validate(
        fdw_config(url, password_secret="pw", cursor_fields={"lines": "version"})
    )
    password = SecretValue(str(conninfo_to_dict(url)["password"]))
    context = RunContext(
        "fdw_direct", "00000000-0000-0000-0000-000000000000", None, {}, database_url
    )
    connector = PostgresFdwConnector(config, {"pw": password}, context)
    try:
        stream = connector.discover()[0]
        items = list(connector.read(ReadRequest(stream, SyncMode.INCREMENTAL)))
    finally:
        connector.close()
    assert [type(i) for i in items] == [ServerSideLoad, Checkpoint]
    assert items[1] == Checkpoint({"column": "version", "value": 1})
    with psycopg.connect(database_url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL ROLE service_role")
            count = conn.execute("SELECT count(*) FROM ipai_fdw_fdw_direct.lines").fetchone()
        conn.execute("DROP SCHEMA ipai_fdw_fdw_direct CASCADE")
        conn.execute("DROP SERVER ipai_fdw_fdw_direct CASCADE")
    assert count == (500,), "the setup leaves a foreign table the service role can read"
