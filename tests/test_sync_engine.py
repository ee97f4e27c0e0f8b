"""The sync engine against the real database: full, incremental, deletes, crash and re-run,
quarantine, schema drift, run records, locking and secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

import tests.support.memory_connector  # noqa: F401  registers `test_memory`
from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.errors import ConnectorBusy
from ipai_core.sync.engine import run_connector, run_lock
from ipai_core.vault import open_vault

ROOT = Path(__file__).resolve().parents[1]
Source = Callable[..., tuple[str, Path]]


@pytest.fixture
def source(lakehouse: Lakehouse, tmp_path: Path, request: pytest.FixtureRequest) -> Source:
    """`source(streams, **options)` → (connector name, data file) of a new test_memory connector."""
    counter = iter(range(1000))

    def make(streams: dict[str, Any], **options: Any) -> tuple[str, Path]:
        name = (
            f"mem_{request.node.name[:30]}_{next(counter)}".lower()
            .replace("[", "_")
            .replace("]", "")
        )
        data = tmp_path / f"{name}.json"
        data.write_text(json.dumps({"streams": streams}))
        secret_refs = options.pop("secret_refs", [])
        config = {
            "target_schema": "ipai_bronze_core",
            "table_prefix": f"{name}_",
            "data_file": str(data),
            "batch_rows": 100,
            **options,
        }
        with lakehouse.session(Principal.service("test: add connector")) as s:
            store.add_connector(
                s, name=name, connector_type="test_memory", config=config, secret_refs=secret_refs
            )
        return name, data

    return make


def _invoices(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "invoices": {
            "columns": {"id": "int", "amount": "float", "updated": "int", "partner": "string"},
            "primary_key": ["id"],
            "cursor": "updated",
            "rows": rows,
            **extra,
        }
    }


def _rows(n: int, start: int = 1, updated: int = 1) -> list[dict[str, Any]]:
    return [
        {"id": i, "amount": i * 1.5, "updated": updated, "partner": f"p{i % 7}"}
        for i in range(start, start + n)
    ]


def _bronze(owner: psycopg.Connection, name: str, stream: str = "invoices") -> list[tuple]:  # type: ignore[type-arg]
    return owner.execute(
        f'SELECT id, amount, partner, _ipai_deleted FROM ipai_bronze_core."{name}_{stream}"'
        " ORDER BY id"
    ).fetchall()


def test_full_then_incremental_with_updates_and_deletes(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection
) -> None:
    name, data = source(_invoices(_rows(250)))
    first = run_connector(lakehouse, name)
    assert first.ok, first.error
    assert first.streams["invoices"].rows_written == 250
    assert len(_bronze(owner_conn, name)) == 250

    changed = _rows(250)
    changed[0] = {**changed[0], "amount": 999.0, "updated": 2}
    changed.append({"id": 251, "amount": 1.0, "updated": 2, "partner": "new"})
    data.write_text(json.dumps({"streams": _invoices(changed, deleted=[{"id": 5}])}))
    second = run_connector(lakehouse, name)
    assert second.ok, second.error
    stats = second.streams["invoices"]
    assert (stats.rows_read, stats.rows_written, stats.rows_deleted) == (2, 2, 1)
    rows = {r[0]: r for r in _bronze(owner_conn, name)}
    assert rows[1][1] == 999.0 and rows[251][2] == "new"
    assert rows[5][3] is True, "a deleted source row is soft-deleted, never removed"
    assert sum(1 for r in rows.values() if not r[3]) == 250


def test_full_refresh_soft_deletes_rows_gone_from_the_source(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection
) -> None:
    name, data = source(_invoices(_rows(10)), mode="full_refresh")
    assert run_connector(lakehouse, name).ok
    data.write_text(json.dumps({"streams": _invoices(_rows(8))}))
    result = run_connector(lakehouse, name)
    assert result.ok and result.streams["invoices"].rows_deleted == 2
    assert [r[0] for r in _bronze(owner_conn, name) if r[3]] == [9, 10]
    # Unchanged rows are not rewritten by a refresh.
    assert result.streams["invoices"].rows_written == 0


def test_cursor_is_committed_with_the_data(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection
) -> None:
    name, _ = source(_invoices(_rows(5, updated=7)))
    assert run_connector(lakehouse, name).ok
    cursor = owner_conn.execute(
        "SELECT s.cursor FROM ipai_connector_state s JOIN ipai_connector_config c"
        " ON c.id = s.connector_id WHERE c.name = %s",
        [name],
    ).fetchone()
    assert cursor == ({"value": 7},)
    again = run_connector(lakehouse, name)
    assert again.streams["invoices"].rows_read == 0


def test_a_run_killed_mid_load_then_rerun_equals_an_uninterrupted_run(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection, tmp_path: Path
) -> None:
    first_rows, later_rows = _rows(300), _rows(300) + _rows(200, start=301, updated=2)
    reference, ref_data = source(_invoices(first_rows))
    killed, killed_data = source(_invoices(first_rows))
    for name in (reference, killed):
        assert run_connector(lakehouse, name).ok
    ref_data.write_text(json.dumps({"streams": _invoices(later_rows, deleted=[{"id": 3}])}))
    killed_data.write_text(json.dumps({"streams": _invoices(later_rows, deleted=[{"id": 3}])}))
    assert run_connector(lakehouse, reference).ok

    pause = tmp_path / "paused"
    with lakehouse.session(Principal.service("test: pause")) as s:
        record = store.find_connector(s, killed)
        store.add_connector(
            s,
            name=killed,
            connector_type="test_memory",
            replace=True,
            config={**record.config, "pause_file": str(pause)},
        )
    process = _run_in_subprocess(lakehouse, killed)
    try:
        _wait_for(pause, process)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    with lakehouse.session(Principal.service("test: resume")) as s:
        config = {
            k: v for k, v in store.find_connector(s, killed).config.items() if k != "pause_file"
        }
        store.add_connector(
            s, name=killed, connector_type="test_memory", replace=True, config=config
        )
    rerun = run_connector(lakehouse, killed)
    assert rerun.ok, rerun.error
    assert _bronze(owner_conn, killed) == _bronze(owner_conn, reference)
    with lakehouse.session(Principal.service("test: history")) as s:
        history = [r.status for r in store.run_history(s, killed)]
    assert history[:2] == ["success", "failed"], "the killed run is recorded as abandoned"


def test_bad_rows_are_quarantined_and_too_many_fail_the_stream(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection
) -> None:
    raw = {
        "invoices": {
            "columns": {"id": "int", "amount": "decimal(10,2)", "day": "date"},
            "primary_key": ["id"],
            "raw_text": True,
            "rows": [
                {"id": "1", "amount": "10.50", "day": "2025-01-31"},
                {"id": "2", "amount": "ten", "day": "2025-02-01"},
                {"id": "", "amount": "3", "day": "2025-02-02"},
                {"id": "4", "amount": "4", "day": "2025-02-30"},
            ],
        }
    }
    lenient, _ = source(raw, max_bad_row_share=0.8)
    result = run_connector(lakehouse, lenient)
    assert result.ok and result.streams["invoices"].rows_quarantined == 3
    reasons = [
        r[0]
        for r in owner_conn.execute(
            "SELECT q.reason FROM ipai_connector_quarantine q JOIN ipai_connector_config c"
            " ON c.id = q.connector_id WHERE c.name = %s ORDER BY q.source",
            [lenient],
        ).fetchall()
    ]
    assert any("amount" in r and "ten" in r for r in reasons)
    assert any("missing primary key" in r for r in reasons)
    assert any("day" in r for r in reasons)

    strict, _ = source(raw, max_bad_row_share=0.1)
    failed = run_connector(lakehouse, strict)
    assert not failed.ok and "quarantined" in (failed.error or "")
    loaded = owner_conn.execute(
        f"SELECT count(*) FROM ipai_bronze_core.{strict}_invoices"
    ).fetchone()
    assert loaded == (0,), "a stream over the bad-row budget loads nothing"
    kept = owner_conn.execute(
        "SELECT count(*) FROM ipai_connector_quarantine q JOIN ipai_connector_config c"
        " ON c.id = q.connector_id WHERE c.name = %s",
        [strict],
    ).fetchone()
    assert kept == (3,), "quarantined rows are kept even when the run fails"


def test_a_new_column_is_added_and_audited(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection
) -> None:
    name, data = source(_invoices(_rows(3)))
    assert run_connector(lakehouse, name).ok
    grown = _invoices([{**r, "updated": 2, "currency": "EUR"} for r in _rows(3)])
    grown["invoices"]["columns"]["currency"] = "string"
    data.write_text(json.dumps({"streams": grown}))
    result = run_connector(lakehouse, name)
    assert result.ok and result.streams["invoices"].schema_changes
    currencies = owner_conn.execute(
        f"SELECT DISTINCT currency FROM ipai_bronze_core.{name}_invoices"
    ).fetchall()
    assert currencies == [("EUR",)]
    audited = owner_conn.execute(
        "SELECT count(*) FROM ipai_audit_log WHERE event_type = 'schema_change'"
        " AND action = 'column_added' AND details ->> 'table' = %s",
        [f"ipai_bronze_core.{name}_invoices"],
    ).fetchone()
    assert audited == (1,)


def test_type_changes_widen_when_safe_and_fail_by_name_otherwise(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection
) -> None:
    name, data = source(
        {
            "t": {
                "columns": {"id": "int32", "n": "int32"},
                "primary_key": ["id"],
                "rows": [{"id": 1, "n": 1}],
            }
        }
    )
    assert run_connector(lakehouse, name).ok
    data.write_text(
        json.dumps(
            {
                "streams": {
                    "t": {
                        "columns": {"id": "int32", "n": "int64"},
                        "primary_key": ["id"],
                        "rows": [{"id": 2, "n": 2**40}],
                    }
                }
            }
        )
    )
    assert run_connector(lakehouse, name).ok
    assert owner_conn.execute(
        f"SELECT n FROM ipai_bronze_core.{name}_t WHERE id = 2"
    ).fetchone() == (2**40,)
    data.write_text(
        json.dumps(
            {
                "streams": {
                    "t": {
                        "columns": {"id": "int32", "n": "date"},
                        "primary_key": ["id"],
                        "rows": [],
                    }
                }
            }
        )
    )
    failed = run_connector(lakehouse, name)
    assert not failed.ok
    assert "`n`" in (failed.error or "") and "bigint" in (failed.error or "")
    assert failed.streams["t"].status == "failed"


def test_runs_are_recorded_and_audited(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection
) -> None:
    name, _ = source(_invoices(_rows(5)))
    result = run_connector(lakehouse, name)
    row = owner_conn.execute(
        "SELECT status, rows_read, rows_written, ended_at IS NOT NULL,"
        " metadata -> 'streams' -> 'invoices' ->> 'rows_written', metadata ? 'duration_s'"
        " FROM ipai_connector_run WHERE id = %s",
        [result.run_id],
    ).fetchone()
    assert row == ("success", 5, 5, True, "5", True)
    actions = [
        r[0]
        for r in owner_conn.execute(
            "SELECT action FROM ipai_audit_log WHERE event_type = 'connector_run'"
            " AND details ->> 'run_id' = %s ORDER BY created_at",
            [result.run_id],
        ).fetchall()
    ]
    assert actions == ["started", "success"]


def test_a_connector_runs_once_at_a_time(lakehouse: Lakehouse, source: Source) -> None:
    name, _ = source(_invoices(_rows(1)))
    record = store.get_connector(lakehouse, name)
    with run_lock(lakehouse.db.url, record), pytest.raises(ConnectorBusy):
        run_connector(lakehouse, name)


def test_a_secret_quoted_by_a_failing_source_never_reaches_the_run_record(
    lakehouse: Lakehouse, source: Source, owner_conn: psycopg.Connection
) -> None:
    secret = "s3cr3t-" + os.urandom(6).hex()
    open_vault(lakehouse).put("test/memory_password", secret)
    name, _ = source(
        _invoices(_rows(1)),
        fail_with_secret="test/memory_password",
        secret_refs=["test/memory_password"],
    )
    result = run_connector(lakehouse, name)
    assert not result.ok and "***" in (result.error or "")
    stored = owner_conn.execute(
        "SELECT r.error_message, r.metadata::text FROM ipai_connector_run r WHERE r.id = %s",
        [result.run_id],
    ).fetchone()
    assert stored is not None and secret not in str(stored)
    audit = owner_conn.execute("SELECT details::text FROM ipai_audit_log").fetchall()
    assert all(secret not in r[0] for r in audit)


def _run_in_subprocess(lakehouse: Lakehouse, name: str) -> subprocess.Popen[bytes]:
    code = (
        "import tests.support.memory_connector\n"
        "from ipai_core import Lakehouse\n"
        "from ipai_core.sync.engine import run_connector\n"
        f"run_connector(Lakehouse.open(), {name!r})\n"
    )
    env = {
        **os.environ,
        "IPAI_DATABASE_URL": lakehouse.owner_url,
        "IPAI_DATA_DIR": str(lakehouse.settings.data_dir),
        "IPAI_JWT_SECRET": lakehouse.settings.jwt_secret.get_secret_value(),
    }  # type: ignore[union-attr]
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)


def _wait_for(marker: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert process.poll() is None, "the run ended before it paused"
        assert time.monotonic() < deadline, "the run never reached its pause"
        time.sleep(0.05)
