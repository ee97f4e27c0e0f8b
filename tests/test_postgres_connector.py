"""The postgres connector against a real source: a new database on the embedded server, synced
into the workspace database. Full, incremental with cursor ties, all-tables discovery, the Redshift
(cursor) path, CDC from a logical slot (inserts, updates, deletes, replays, TOAST), bad input."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.connectors.base import Deletes, ReadRequest, SyncMode
from ipai_core.connectors.postgres import (
    UNCHANGED,
    PostgresConfig,
    PostgresConnector,
    parse_tuple,
)
from ipai_core.errors import ConfigError
from ipai_core.sync.engine import RunResult, run_connector
from ipai_core.vault import SecretValue, open_vault

SCHEMA = "ipai_bronze_erp"
T1 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
T2 = T1 + timedelta(hours=1)
Row = tuple[Any, ...]

SOURCE_DDL = """
CREATE TABLE invoices (
    id integer PRIMARY KEY,
    amount numeric(12,2) NOT NULL,
    total numeric,
    issued timestamptz,
    doc jsonb,
    note text,
    sparse text,
    tags text[],
    updated_at timestamptz NOT NULL
);
CREATE TABLE countries (code char(2) PRIMARY KEY, name varchar(40), population bigint);
"""
NOTE = 'it\'s "quoted", a comma\nand a newline'


def _invoice(i: int, updated: datetime = T1, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "amount": Decimal(f"{i}2.50"),
        "total": Decimal("1.23456789012345"),
        "issued": T1 - timedelta(days=i),
        "doc": json.dumps({"n": i, "items": [1, 2]}),
        "note": NOTE if i % 2 else f"plain {i}",
        "sparse": "rare" if i == 3 else None,
        "tags": ["a", "b,c"],
        "updated_at": updated,
    }
    return {**row, **overrides}


def insert_invoices(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        conn.execute(
            "INSERT INTO invoices (id, amount, total, issued, doc, note, sparse, tags, updated_at)"
            " VALUES (%(id)s, %(amount)s, %(total)s, %(issued)s, %(doc)s::jsonb, %(note)s,"
            " %(sparse)s, %(tags)s, %(updated_at)s)",
            row,
        )


@pytest.fixture
def source(new_database: Callable[[], str]) -> Iterator[tuple[str, psycopg.Connection]]:
    """(URL, autocommit connection) of a new source database with `invoices` and `countries`."""
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SOURCE_DDL)
        conn.execute(
            "INSERT INTO countries VALUES ('FR', 'France', 68000000), ('PT', 'Portugal', NULL)"
        )
        yield url, conn
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE database = current_database()"
        )


def source_config(url: str, **config: Any) -> dict[str, Any]:
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


Adder = Callable[..., str]


@pytest.fixture
def add(lakehouse: Lakehouse, request: pytest.FixtureRequest) -> Adder:
    """`add(url, suffix="", **config)` → the name of a new postgres connector on that source."""

    def make(url: str, suffix: str = "", connector_type: str = "postgres", **config: Any) -> str:
        name = f"pg_{request.node.name[5:28]}{suffix}_{secrets.token_hex(2)}".lower()
        full = source_config(url, table_prefix=f"{name}_", **config)
        password = conninfo_to_dict(url).get("password")
        refs = []
        if password and "password_secret" not in config:
            refs = [f"{name}/password"]
            open_vault(lakehouse).put(refs[0], str(password), description="test source")
            full["password_secret"] = refs[0]
        with lakehouse.session(Principal.service("test: add postgres connector")) as s:
            store.add_connector(
                s, name=name, connector_type=connector_type, config=full, secret_refs=refs
            )
        return name

    return make


def bronze(owner: psycopg.Connection, name: str, table: str, columns: str = "*") -> list[Row]:
    return owner.execute(f'SELECT {columns} FROM {SCHEMA}."{name}_{table}" ORDER BY 1').fetchall()


def ok(result: RunResult) -> RunResult:
    assert result.ok, result.error
    return result


def test_full_then_incremental_never_skips_nor_duplicates_equal_cursor_values(
    lakehouse: Lakehouse,
    source: tuple[str, psycopg.Connection],
    add: Adder,
    owner_conn: psycopg.Connection,
) -> None:
    url, src = source
    insert_invoices(src, [_invoice(i) for i in range(1, 6)])  # five rows, one cursor value
    name = add(url, tables=["invoices", "countries"], cursor_fields={"invoices": "updated_at"})
    first = ok(run_connector(lakehouse, name))
    assert first.streams["invoices"].rows_written == 5
    assert first.streams["countries"].rows_written == 2

    types = dict(
        owner_conn.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns"
            " JOIN pg_attribute ON attrelid = format('%%I.%%I', table_schema, table_name)::regclass"
            " AND attname = column_name WHERE table_schema = %s AND table_name = %s",
            [SCHEMA, f"{name}_invoices"],
        ).fetchall()
    )
    assert types["id"] == "integer" and types["amount"] == "numeric(12,2)"
    assert types["total"] == "numeric(38,10)", "unconstrained numeric → decimal128(38,10)"
    assert types["issued"] == types["updated_at"] == "timestamp with time zone"
    assert types["doc"] == types["tags"] == "text"
    rows = {r[0]: r for r in bronze(owner_conn, name, "invoices")}
    one = rows[1]
    assert one[1] == Decimal("12.50") and one[2] == Decimal("1.2345678901")
    assert one[3] == T1 - timedelta(days=1) and one[8] == T1
    assert json.loads(one[4]) == {"n": 1, "items": [1, 2]}
    assert one[5] == NOTE and one[7] == '{a,"b,c"}'
    assert [r[6] for r in rows.values()] == [None, None, "rare", None, None]
    assert rows[2][5] == "plain 2"

    # A later row with the SAME cursor value and a lower key, an update, a new row, a deletion.
    insert_invoices(src, [_invoice(0), _invoice(6, T2)])
    src.execute("UPDATE invoices SET amount = 99, updated_at = %s WHERE id = 3", [T2])
    src.execute("DELETE FROM countries WHERE code = 'FR'")
    second = ok(run_connector(lakehouse, name))
    assert second.streams["invoices"].rows_written == 3, "rows 0, 3 and 6; the re-read are equal"
    rows = {r[0]: r for r in bronze(owner_conn, name, "invoices")}
    assert sorted(rows) == [0, 1, 2, 3, 4, 5, 6]
    assert rows[3][1] == Decimal("99.00")
    assert [r[0] for r in bronze(owner_conn, name, "countries") if r[-1]] == ["FR"]

    # Across this boundary too: rows 3 and 6 hold the checkpoint value; one more arrives with it.
    insert_invoices(src, [_invoice(7, T2)])
    third = ok(run_connector(lakehouse, name))
    assert third.streams["invoices"].rows_read == 3 and third.streams["invoices"].rows_written == 1
    assert len(bronze(owner_conn, name, "invoices")) == 8
    cursor = owner_conn.execute(
        "SELECT s.cursor FROM ipai_connector_state s JOIN ipai_connector_config c"
        " ON c.id = s.connector_id WHERE c.name = %s AND s.stream = 'invoices'",
        [name],
    ).fetchone()
    assert cursor is not None
    assert cursor[0]["column"] == "updated_at"
    assert datetime.fromisoformat(cursor[0]["value"]) == T2


def test_all_tables_of_a_schema_are_discovered_with_their_keys(
    lakehouse: Lakehouse,
    source: tuple[str, psycopg.Connection],
    add: Adder,
    owner_conn: psycopg.Connection,
) -> None:
    url, src = source
    src.execute(
        "CREATE TABLE tags (label text NOT NULL, note text);"
        " CREATE UNIQUE INDEX tags_label ON tags (label);"
        " INSERT INTO tags VALUES ('x', 'first'), ('y', NULL);"
        " CREATE VIEW big_countries AS SELECT * FROM countries;"
    )
    name = add(url)
    result = ok(run_connector(lakehouse, name))
    assert sorted(result.streams) == ["countries", "invoices", "tags"], "base tables, no views"
    assert bronze(owner_conn, name, "tags", "label, note") == [("x", "first"), ("y", None)]
    key = owner_conn.execute(
        "SELECT array_agg(a.attname::text) FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary",
        [f'{SCHEMA}."{name}_tags"'],
    ).fetchone()
    assert key == (["label"],), "a unique index over NOT NULL columns becomes the bronze key"


def test_unknown_and_keyless_tables_are_refused_by_name(
    lakehouse: Lakehouse, source: tuple[str, psycopg.Connection], add: Adder
) -> None:
    url, src = source
    name = add(url, tables=["invoices", "no_such_table"])
    result = run_connector(lakehouse, name)
    assert not result.ok and result.error is not None and "no_such_table" in result.error

    src.execute("CREATE SCHEMA extra; CREATE TABLE extra.events (at timestamptz, what text)")
    connector = direct_connector(url, schema_name="extra")
    try:
        with pytest.raises(ConfigError, match=r"extra\.events"):
            connector.discover()
    finally:
        connector.close()


def test_a_value_arrow_cannot_hold_fails_the_stream_naming_the_table(
    lakehouse: Lakehouse, source: tuple[str, psycopg.Connection], add: Adder
) -> None:
    url, src = source
    src.execute("CREATE TABLE odd (id int PRIMARY KEY, at timestamptz)")
    src.execute("INSERT INTO odd VALUES (1, 'infinity')")
    result = run_connector(lakehouse, add(url, tables=["odd"]))
    assert not result.ok and result.error is not None and "public.odd" in result.error


def test_the_redshift_dialect_reads_through_a_server_side_cursor_to_the_same_bronze(
    lakehouse: Lakehouse,
    source: tuple[str, psycopg.Connection],
    add: Adder,
    owner_conn: psycopg.Connection,
) -> None:
    url, src = source
    insert_invoices(src, [_invoice(i) for i in range(1, 30)])
    cursors = {"invoices": "updated_at"}
    copied = add(url, "_pg", tables=["invoices"], cursor_fields=cursors, batch_rows=100)
    fetched = add(
        url, "_rs", tables=["invoices"], cursor_fields=cursors, batch_rows=100, dialect="redshift"
    )
    for name in (copied, fetched):
        ok(run_connector(lakehouse, name))
    columns = "id, amount, total, issued, doc, note, sparse, tags, updated_at"
    assert bronze(owner_conn, copied, "invoices", columns) == bronze(
        owner_conn, fetched, "invoices", columns
    )
    src.execute("UPDATE invoices SET note = 'later', updated_at = %s WHERE id = 7", [T2])
    again = ok(run_connector(lakehouse, fetched))
    assert again.streams["invoices"].rows_written == 1
    assert bronze(owner_conn, fetched, "invoices", "id, note")[6] == (7, "later")


def test_cdc_lands_inserts_updates_and_deletes_and_creates_the_slot_once(
    lakehouse: Lakehouse,
    source: tuple[str, psycopg.Connection],
    add: Adder,
    owner_conn: psycopg.Connection,
) -> None:
    url, src = source
    insert_invoices(src, [_invoice(i) for i in range(1, 6)])
    name = add(url, mode="cdc")
    first = ok(run_connector(lakehouse, name))
    assert first.streams["invoices"].rows_written == 5
    slots = _slots(src)
    assert [s[0] for s in slots] == [f"ipai_{name}"]

    insert_invoices(src, [_invoice(6, note="it''s ''doubled''", sparse=None)])
    src.execute('UPDATE invoices SET amount = 7.77, doc = \'{"k": "v w"}\' WHERE id = 2')
    src.execute("DELETE FROM invoices WHERE id = 4")
    src.execute("UPDATE invoices SET id = 50 WHERE id = 5")  # a key change: delete + insert
    src.execute("INSERT INTO countries VALUES ('DE', 'Germany', 84000000)")
    src.execute("DELETE FROM countries WHERE code = 'PT'")
    second = ok(run_connector(lakehouse, name))
    stats = second.streams["invoices"]
    assert (stats.rows_read, stats.rows_deleted) == (3, 2)
    rows = {r[0]: r for r in bronze(owner_conn, name, "invoices")}
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 50]
    assert [i for i, r in rows.items() if r[-1]] == [4, 5], "deletes land as soft deletes"
    assert rows[2][1] == Decimal("7.77") and json.loads(rows[2][4]) == {"k": "v w"}
    assert rows[6][5] == "it''s ''doubled''" and rows[6][6] is None
    assert rows[6][3] == T1 - timedelta(days=6) and rows[6][2] == Decimal("1.2345678901")
    assert rows[6][7] == '{a,"b,c"}'
    assert rows[50][5] == NOTE
    countries = {r[0]: r for r in bronze(owner_conn, name, "countries")}
    assert countries["DE"][1:3] == ("Germany", 84000000) and countries["PT"][-1] is True

    assert _slots(src)[0][1] < _checkpoint(owner_conn, name, "invoices"), (
        "the slot is not advanced by the run that loaded the changes"
    )
    third = ok(run_connector(lakehouse, name))
    assert third.streams["invoices"].rows_read == 0, "committed changes are not replayed"
    assert [s[0] for s in _slots(src)] == [f"ipai_{name}"], "the slot is created once"
    assert _slots(src)[0][1] == _checkpoint(owner_conn, name, "invoices")


def test_cdc_replays_what_a_failed_stream_did_not_commit_without_duplicates(
    lakehouse: Lakehouse,
    source: tuple[str, psycopg.Connection],
    add: Adder,
    owner_conn: psycopg.Connection,
) -> None:
    """A run whose `countries` stream fails after `invoices` committed: the slot keeps what
    `countries` has not committed, and the re-run replays it; `invoices` gets nothing twice."""
    url, src = source
    insert_invoices(src, [_invoice(i) for i in range(1, 4)])
    name = add(url, mode="cdc")
    ok(run_connector(lakehouse, name))
    insert_invoices(src, [_invoice(10)])
    src.execute("UPDATE countries SET population = 1 WHERE code = 'FR'")
    src.execute("INSERT INTO countries VALUES ('ES', 'Spain', 48000000)")
    src.execute("DELETE FROM invoices WHERE id = 1")
    src.execute("UPDATE countries SET population = -5 WHERE code = 'ES'")

    table = f'{SCHEMA}."{name}_countries"'
    owner_conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT positive CHECK (population > 0)")
    failed = run_connector(lakehouse, name)
    assert not failed.ok and failed.streams["countries"].status == "failed"
    assert failed.streams["invoices"].status == "success"
    assert "ES" not in [r[0] for r in bronze(owner_conn, name, "countries")]

    owner_conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT positive")
    rerun = ok(run_connector(lakehouse, name))
    assert rerun.streams["invoices"].rows_read == 0 and rerun.streams["invoices"].rows_deleted == 0
    assert rerun.streams["countries"].rows_read == 3
    countries = {r[0]: r[1:3] for r in bronze(owner_conn, name, "countries")}
    assert countries == {"FR": ("France", 1), "ES": ("Spain", -5), "PT": ("Portugal", None)}
    invoices = bronze(owner_conn, name, "invoices", "id, _ipai_deleted")
    assert invoices == [(1, True), (2, False), (3, False), (10, False)]

    # The committed state thrown away: a fresh copy plus a replay of the whole slot converge.
    owner_conn.execute(
        "DELETE FROM ipai_connector_state s USING ipai_connector_config c"
        " WHERE c.id = s.connector_id AND c.name = %s",
        [name],
    )
    ok(run_connector(lakehouse, name))
    replay = ok(run_connector(lakehouse, name))
    assert replay.streams["invoices"].rows_read == 1 and replay.streams["countries"].rows_read == 3
    assert bronze(owner_conn, name, "invoices", "id, _ipai_deleted") == invoices
    assert {r[0]: r[1:3] for r in bronze(owner_conn, name, "countries")} == countries


def test_cdc_keeps_toasted_values_an_update_leaves_out(
    lakehouse: Lakehouse,
    source: tuple[str, psycopg.Connection],
    add: Adder,
    owner_conn: psycopg.Connection,
) -> None:
    url, src = source
    name = add(url, mode="cdc", tables=["invoices"])
    ok(run_connector(lakehouse, name))
    big = secrets.token_hex(20_000)  # incompressible: stored out of line (TOAST)
    insert_invoices(src, [_invoice(1, note=big), _invoice(2, note=big)])
    ok(run_connector(lakehouse, name))
    src.execute("UPDATE invoices SET amount = 1 WHERE id IN (1, 2)")
    src.execute("DELETE FROM invoices WHERE id = 2")
    ok(run_connector(lakehouse, name))
    rows = bronze(owner_conn, name, "invoices", "id, amount, md5(note), _ipai_deleted")
    digest = hashlib.md5(big.encode()).hexdigest()  # noqa: S324 - a checksum, not security
    assert rows == [(1, Decimal("1.00"), digest, False), (2, Decimal("22.50"), digest, True)]


def test_a_truncate_fails_the_cdc_stream_with_a_way_out(
    lakehouse: Lakehouse, source: tuple[str, psycopg.Connection], add: Adder
) -> None:
    url, src = source
    name = add(url, mode="cdc", tables=["countries"])
    ok(run_connector(lakehouse, name))
    src.execute("TRUNCATE countries")
    failed = run_connector(lakehouse, name)
    assert not failed.ok and failed.error is not None and "full_refresh" in failed.error


def test_reading_cdc_directly_yields_typed_batches_then_deletes_in_change_order(
    source: tuple[str, psycopg.Connection],
) -> None:
    url, src = source
    connector = direct_connector(
        url, mode="cdc", tables=["countries"], slot_name="ipai_direct_read"
    )
    try:
        stream = connector.discover()[0]
        first = list(connector.read(ReadRequest(stream, SyncMode.CDC)))
        lsn = first[-1].value["lsn"]
        src.execute("INSERT INTO countries VALUES ('IT', 'Italy', 59000000)")
        src.execute("DELETE FROM countries WHERE code = 'IT'")
        src.execute("INSERT INTO countries VALUES ('IT', 'Italia', 1)")
        items = list(connector.read(ReadRequest(stream, SyncMode.CDC, {"lsn": lsn})))
    finally:
        connector.close()
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["RecordBatch", "Deletes", "RecordBatch", "Checkpoint"]
    assert items[0].to_pylist() == [{"code": "IT", "name": "Italy", "population": 59000000}]
    assert isinstance(items[1], Deletes) and items[1].keys.to_pylist() == [{"code": "IT"}]


def test_test_decoding_tuples_are_parsed_with_quotes_nulls_and_odd_names() -> None:
    text = (
        "id[integer]:1 name[text]:'it''s a ''test'' [x]:y' note[character varying]:null"
        ' "Odd ""Col"""[integer[]]:\'{1,2}\' big[text]:unchanged-toast-datum'
        " flag[boolean]:true bits[bit varying]:B'101' at[timestamp with time zone]:"
        "'2025-01-01 10:00:00+00'"
    )
    values, end = parse_tuple(text)
    assert end == len(text)
    assert values == {
        "id": "1",
        "name": "it's a 'test' [x]:y",
        "note": None,
        'Odd "Col"': "{1,2}",
        "big": UNCHANGED,
        "flag": "true",
        "bits": "101",
        "at": "2025-01-01 10:00:00+00",
    }
    old, stop = parse_tuple("id[integer]:5 new-tuple: id[integer]:50", stop="new-tuple: ")
    assert old == {"id": "5"} and stop == len("id[integer]:5 ")


def test_a_wrong_password_fails_the_run_without_showing_it(
    lakehouse: Lakehouse, source: tuple[str, psycopg.Connection], add: Adder
) -> None:
    url, _ = source
    if not conninfo_to_dict(url).get("password"):
        pytest.skip("the embedded server uses trust auth here: any password is accepted")
    wrong = f"wrong-{secrets.token_hex(8)}"
    open_vault(lakehouse).put("pg_wrong/password", wrong)
    name = add(url, password_secret="pg_wrong/password")
    with lakehouse.session(Principal.service("test: secret ref")) as s:
        record = store.find_connector(s, name)
        store.add_connector(
            s,
            name=name,
            connector_type="postgres",
            config=record.config,
            secret_refs=["pg_wrong/password"],
            replace=True,
        )
    result = run_connector(lakehouse, name)
    assert not result.ok and result.error is not None
    assert "password authentication failed" in result.error
    with lakehouse.session(Principal.service("test: run record")) as s:
        runs = store.run_history(s, name)
    assert runs[0].error_message is not None and wrong not in runs[0].error_message
    assert wrong not in json.dumps(runs[0].metadata)


def direct_connector(url: str, **config: Any) -> PostgresConnector:
    """A connector used without the engine (no run context, so no derived slot name)."""
    password = conninfo_to_dict(url).get("password")
    if password:
        config["password_secret"] = "pw"
    return PostgresConnector(
        PostgresConfig.model_validate(source_config(url, **config)),
        {"pw": SecretValue(str(password))} if password else {},
    )


def _slots(src: psycopg.Connection) -> list[tuple[str, int]]:
    rows = src.execute(
        "SELECT slot_name, confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots"
        " WHERE database = current_database() ORDER BY 1"
    ).fetchall()
    return [(str(r[0]), int(r[1])) for r in rows]


def _checkpoint(owner: psycopg.Connection, name: str, stream: str) -> int:
    row = owner.execute(
        "SELECT (s.cursor ->> 'lsn')::pg_lsn - '0/0'::pg_lsn FROM ipai_connector_state s"
        " JOIN ipai_connector_config c ON c.id = s.connector_id"
        " WHERE c.name = %s AND s.stream = %s",
        [name, stream],
    ).fetchone()
    assert row is not None
    return int(row[0])
