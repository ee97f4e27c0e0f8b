"""The file connector: CSV, Parquet, JSON and JSON Lines from local paths, incremental by file,
malformed rows quarantined, new columns added, originals archived."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.sync.engine import run_connector


@pytest.fixture
def add(lakehouse: Lakehouse, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    def make(url: Path | str, suffix: str = "", **config: Any) -> str:
        name = f"files_{request.node.name[5:35]}{suffix}".lower().rstrip("_")
        full = {
            "target_schema": "ipai_bronze_retail",
            "url": str(url),
            "stream": name,
            "primary_key": ["id"],
            **config,
        }
        with lakehouse.session(Principal.service("test: add file connector")) as s:
            store.add_connector(s, name=name, connector_type="file", config=full, replace=True)
        return name

    return make


def _table(owner: psycopg.Connection, name: str, columns: str = "*") -> list[tuple[Any, ...]]:
    return owner.execute(f"SELECT {columns} FROM ipai_bronze_retail.{name} ORDER BY 1").fetchall()


def test_csv_loads_typed_and_only_changed_files_are_read_again(
    lakehouse: Lakehouse,
    add,
    tmp_path: Path,
    owner_conn: psycopg.Connection,  # type: ignore[no-untyped-def]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("id,amount,day,note\n1,10.50,2025-01-31,first\n2,3,2025-02-01,\n")
    (folder / "b.csv").write_text('id,amount,day,note\n3,7.25,2025-03-01,"quoted, comma"\n')
    name = add(folder / "*.csv", columns={"amount": "decimal(10,2)"})
    first = run_connector(lakehouse, name)
    assert first.ok, first.error
    assert _table(owner_conn, name, "id, amount::text, day::text, note") == [
        (1, "10.50", "2025-01-31", "first"),
        (2, "3.00", "2025-02-01", ""),
        (3, "7.25", "2025-03-01", "quoted, comma"),
    ]
    types = dict(
        owner_conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'ipai_bronze_retail' AND table_name = %s",
            [name],
        ).fetchall()
    )
    assert types["id"] == "bigint" and types["amount"] == "numeric" and types["day"] == "date"

    (folder / "b.csv").write_text("id,amount,day,note\n3,8.00,2025-03-01,changed\n")
    second = run_connector(lakehouse, name)
    assert second.ok and second.streams[name].rows_read == 1, "a.csv is unchanged: not read"
    assert _table(owner_conn, name, "id, note")[2] == (3, "changed")


def test_malformed_csv_rows_are_quarantined_with_line_and_reason(
    lakehouse: Lakehouse,
    add,
    tmp_path: Path,
    owner_conn: psycopg.Connection,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "bad.csv"
    lines = ["id,amount"] + [f"{i},{i}.5" for i in range(1, 101)]
    lines[10] = "10,not-a-number"
    lines[20] = "20,1,extra-field"
    path.write_text("\n".join(lines) + "\n")
    name = add(path, columns={"amount": "float"}, max_bad_row_share=0.05)
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert result.streams[name].rows_quarantined == 2
    assert len(_table(owner_conn, name)) == 98
    quarantined = owner_conn.execute(
        "SELECT source, raw_value, reason FROM ipai_connector_quarantine q"
        " JOIN ipai_connector_config c ON c.id = q.connector_id WHERE c.name = %s"
        " ORDER BY q.id",
        [name],
    ).fetchall()
    reasons = " | ".join(r[2] for r in quarantined)
    raws = " | ".join(r[1] for r in quarantined)
    assert "not-a-number" in raws and "extra-field" in raws
    assert "expected 2 fields" in reasons and "amount" in reasons
    assert any(r[0].startswith("bad.csv#") for r in quarantined)


def test_a_csv_of_many_blocks_loads_in_batch_sized_batches_with_true_line_numbers(
    lakehouse: Lakehouse,
    add,
    tmp_path: Path,
    owner_conn: psycopg.Connection,  # type: ignore[no-untyped-def]
) -> None:
    """The reader parses small blocks and regroups them into `batch_rows`-row batches: every
    row arrives once, in order, and a bad row deep in the file is reported at its own line."""
    path = tmp_path / "big.csv"
    rows = [
        f"{i},{i}.25,row {i:06d} of a file larger than several read blocks"
        for i in range(1, 20_001)
    ]
    rows[14_999] = "15000,oops,a bad amount"
    path.write_text("id,amount,note\n" + "\n".join(rows) + "\n")
    assert path.stat().st_size > 4 * (1 << 18)
    name = add(path, columns={"amount": "decimal(12,2)"}, batch_rows=3_000)
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    stats = result.streams[name]
    assert (stats.rows_read, stats.rows_written, stats.rows_quarantined) == (20_000, 19_999, 1)
    count, total = owner_conn.execute(
        f"SELECT count(*), sum(id) FROM ipai_bronze_retail.{name}"
    ).fetchone()
    assert (count, total) == (19_999, 20_000 * 20_001 // 2 - 15_000)
    (source,) = owner_conn.execute(
        "SELECT source FROM ipai_connector_quarantine q"
        " JOIN ipai_connector_config c ON c.id = q.connector_id WHERE c.name = %s",
        [name],
    ).fetchone()
    assert source == "big.csv#15001"  # the header is line 1


def test_a_new_column_in_a_later_file_is_added(
    lakehouse: Lakehouse,
    add,
    tmp_path: Path,
    owner_conn: psycopg.Connection,  # type: ignore[no-untyped-def]
) -> None:
    folder = tmp_path / "grow"
    folder.mkdir()
    (folder / "1.csv").write_text("id,qty\n1,5\n")
    name = add(folder / "*.csv")
    assert run_connector(lakehouse, name).ok
    (folder / "2.csv").write_text("id,qty,channel\n2,6,web\n")
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert _table(owner_conn, name, "id, qty, channel") == [(1, 5, None), (2, 6, "web")]


def test_parquet_json_and_jsonl(
    lakehouse: Lakehouse,
    add,
    tmp_path: Path,
    owner_conn: psycopg.Connection,  # type: ignore[no-untyped-def]
) -> None:
    pl.DataFrame({"id": [1, 2], "price": [1.5, 2.5], "sku": ["a", "b"]}).write_parquet(
        tmp_path / "p.parquet"
    )
    parquet = add(tmp_path / "p.parquet", suffix="_pq")
    assert run_connector(lakehouse, parquet).ok
    assert _table(owner_conn, parquet, "id, price, sku") == [(1, 1.5, "a"), (2, 2.5, "b")]

    (tmp_path / "events.jsonl").write_text(
        '{"id": 1, "kind": "click", "meta": {"x": 1}}\n{oops\n{"id": 2, "kind": "view"}\n'
    )
    jsonl = add(tmp_path / "events.jsonl", suffix="_jl", max_bad_row_share=0.5)
    result = run_connector(lakehouse, jsonl)
    assert result.ok and result.streams[jsonl].rows_quarantined == 1
    rows = _table(owner_conn, jsonl, "id, kind, meta")
    assert rows[0][:2] == (1, "click") and json.loads(rows[0][2]) == {"x": 1}

    (tmp_path / "doc.json").write_text(json.dumps([{"id": 7, "ok": True}, {"id": 8, "ok": False}]))
    document = add(tmp_path / "doc.json", suffix="_js")
    assert run_connector(lakehouse, document).ok
    assert _table(owner_conn, document, "id, ok") == [(7, True), (8, False)]


def test_source_files_are_archived_to_the_blob_store(
    lakehouse: Lakehouse,
    add,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "archive_me.csv"
    path.write_text("id,v\n1,x\n")
    name = add(path)
    result = run_connector(lakehouse, name)
    assert result.ok
    archived = list((lakehouse.settings.data_dir / "blobs" / "archive" / name).rglob("*.csv"))
    assert [p.read_text() for p in archived] == ["id,v\n1,x\n"]
    assert result.run_id in str(archived[0])


def test_bad_configs_are_refused_with_the_field_named(lakehouse: Lakehouse) -> None:
    from ipai_core.errors import ConfigError

    with lakehouse.session(Principal.service("test: bad config")) as s:
        with pytest.raises(ConfigError, match="primary_key"):
            store.add_connector(
                s,
                name="bad1",
                connector_type="file",
                config={"target_schema": "ipai_bronze_retail", "url": "/x/*.csv", "stream": "x"},
            )
        with pytest.raises(ConfigError, match="target_schema"):
            store.add_connector(
                s,
                name="bad2",
                connector_type="file",
                config={
                    "target_schema": "public",
                    "url": "/x",
                    "stream": "x",
                    "primary_key": ["id"],
                },
            )
        with pytest.raises(ConfigError, match="cron"):
            store.add_connector(
                s,
                name="bad3",
                connector_type="file",
                schedule="every hour",
                config={
                    "target_schema": "ipai_bronze_retail",
                    "url": "/x",
                    "stream": "x",
                    "primary_key": ["id"],
                },
            )
        with pytest.raises(ConfigError, match="known types"):
            store.add_connector(s, name="bad4", connector_type="nope", config={})
