"""The Odoo connector against a local server speaking Odoo's JSON-RPC (`demo.odoo_server`):
full and incremental syncs, equal write_dates across page boundaries, deletes found by id
reconciliation, retries on 500s and timeouts, re-authentication when the session expires, Odoo's
own error messages, no password in run records; and the ERP demo generator itself."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.connectors.odoo import _gone
from ipai_core.demo.erp_data import MODELS, ErpDemo
from ipai_core.demo.odoo_server import OdooServer
from ipai_core.sync.engine import run_connector
from ipai_core.vault import open_vault

REFERENCE = date(2026, 11, 1)
PASSWORD = "odoo-api-key-5f2c91d7"
_numbers = itertools.count()

AddOdoo = Callable[..., tuple[str, str]]


@pytest.fixture
def odoo() -> Iterator[OdooServer]:
    demo = ErpDemo.generate(seed=11, reference_date=REFERENCE)
    with OdooServer(demo, login="admin", password=PASSWORD, stall_s=1.5) as server:
        yield server


@pytest.fixture
def add_odoo(lakehouse: Lakehouse, odoo: OdooServer) -> AddOdoo:
    """`add_odoo(**config)` → (connector name, bronze table prefix) of a new Odoo connector."""

    def add(password: str = PASSWORD, **config: Any) -> tuple[str, str]:
        number = next(_numbers)
        name, prefix, secret = f"odoo-test-{number}", f"odoo{number}_", f"test/odoo_{number}"
        open_vault(lakehouse).put(secret, password)
        full = {
            "target_schema": "ipai_bronze_erp",
            "table_prefix": prefix,
            "url": odoo.url,
            "database": odoo.database,
            "username": "admin",
            "password_secret": secret,
            "backoff_s": 0.01,
            "lookback_s": 0,  # exact row counts below; one test turns it on
            **config,
        }
        with lakehouse.session(Principal.service("test: add odoo connector")) as s:
            store.add_connector(
                s, name=name, connector_type="odoo", config=full, secret_refs=[secret]
            )
        return name, prefix

    return add


def _reconfigure(lakehouse: Lakehouse, name: str, **changes: Any) -> None:
    record = store.get_connector(lakehouse, name)
    with lakehouse.session(Principal.service("test: change odoo connector")) as s:
        store.add_connector(
            s,
            name=name,
            connector_type="odoo",
            config={**record.config, **changes},
            secret_refs=record.vault_secret_refs,
            replace=True,
        )


def _rows(
    owner: psycopg.Connection, table: str, columns: str = "*", where: str = "true"
) -> list[tuple[Any, ...]]:
    query = f"SELECT {columns} FROM ipai_bronze_erp.{table} WHERE {where} ORDER BY id"
    return owner.execute(query).fetchall()


def _count(owner: psycopg.Connection, table: str, where: str = "true") -> int:
    return len(_rows(owner, table, "id", where))


def test_full_sync_flattens_many2one_keeps_companies_apart_and_moves_balanced(
    lakehouse: Lakehouse, add_odoo: AddOdoo, odoo: OdooServer, owner_conn: psycopg.Connection
) -> None:
    name, prefix = add_odoo()
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    demo = odoo.demo
    for model in MODELS:
        stream = model.replace(".", "_")
        assert result.streams[stream].rows_read == demo.count(model), model
        assert _count(owner_conn, prefix + stream) == demo.count(model), model
        if model != "res.company":
            assert _count(owner_conn, prefix + stream, "company_id IS NULL") == 0, model

    source = demo.rows("account.move.line")[123]
    columns = "move_id, move_name, account_id, account_name, company_id, company_name, debit"
    row = _rows(
        owner_conn, prefix + "account_move_line", f"{columns}, write_date", f"id = {source['id']}"
    )[0]
    assert row[:6] == (*source["move_id"], *source["account_id"], *source["company_id"])
    assert row[6] == source["debit"] and isinstance(row[6], Decimal)
    assert row[7] == datetime.fromisoformat(source["write_date"][:19]).replace(tzinfo=UTC)

    lines = f"ipai_bronze_erp.{prefix}account_move_line"
    unbalanced = owner_conn.execute(
        f"SELECT move_id FROM {lines} GROUP BY move_id HAVING sum(debit) <> sum(credit)"
    ).fetchall()
    assert unbalanced == []
    assert owner_conn.execute(
        f"SELECT count(*) FROM {lines} WHERE balance <> debit - credit"
    ).fetchone() == (0,)
    types = dict(
        owner_conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'ipai_bronze_erp' AND table_name = %s",
            [prefix + "account_move_line"],
        ).fetchall()
    )
    assert types["debit"] == "numeric" and types["date"] == "date"
    assert types["write_date"] == "timestamp with time zone" and types["reconciled"] == "boolean"
    assert types["move_id"] == "bigint" and types["date_maturity"] == "date"
    states = dict(
        owner_conn.execute(
            f"SELECT state, count(*) FROM ipai_bronze_erp.{prefix}account_move GROUP BY state"
        ).fetchall()
    )
    assert {"draft", "posted", "cancel"} <= set(states)
    task = _rows(owner_conn, prefix + "project_task", "user_ids, stage_name, date_deadline")[0]
    assert json.loads(task[0]) == demo.rows("project.task")[0]["user_ids"] and task[1]
    assert _count(owner_conn, prefix + "res_partner", "NOT active") == 1  # archived, still synced

    again = run_connector(lakehouse, name)
    assert again.ok, again.error
    assert sum(s.rows_read for s in again.streams.values()) == 0
    assert sum(s.rows_deleted for s in again.streams.values()) == 0


def test_incremental_reads_only_changes_and_equal_write_dates_cross_pages_intact(
    lakehouse: Lakehouse, add_odoo: AddOdoo, odoo: OdooServer, owner_conn: psycopg.Connection
) -> None:
    name, prefix = add_odoo(streams=["res_partner", "project_task"], page_size=7)
    demo = odoo.demo
    shared = Counter(r["write_date"] for r in demo.rows("res.partner")).most_common(1)[0][1]
    assert shared > 7 * 3, "the setup import gives many partners one write_date"
    first = run_connector(lakehouse, name)
    assert first.ok, first.error
    assert first.streams["res_partner"].rows_read == demo.count("res.partner")  # none twice
    assert _count(owner_conn, prefix + "res_partner") == demo.count("res.partner")  # none lost
    assert first.streams["project_task"].rows_read == demo.count("project.task")

    tasks = [r["id"] for r in demo.rows("project.task")][5:15]
    moment = datetime(2026, 11, 20, 9, 30, 0, 250_000)
    demo.touch("project.task", tasks, moment, {"name": "Renamed in Odoo"})  # one transaction
    demo.touch("res.partner", [5, 6, 7], datetime(2026, 11, 20, 9, 31), {"email": "x@new.test"})
    second = run_connector(lakehouse, name)
    assert second.ok, second.error
    assert second.streams["project_task"].rows_read == 10
    assert second.streams["res_partner"].rows_read == 3
    renamed = _rows(owner_conn, prefix + "project_task", "id", "name = 'Renamed in Odoo'")
    assert [r[0] for r in renamed] == tasks

    # Written later in the same second, with a higher id: still found, nothing read twice.
    demo.touch(
        "project.task", [tasks[-1] + 1], moment.replace(microsecond=900_000), {"priority": "1"}
    )
    third = run_connector(lakehouse, name)
    assert third.ok and third.streams["project_task"].rows_read == 1

    # A transaction that began in that second but committed after the sync (a lower id, stamped
    # before the cursor): only the lookback finds it.
    late = demo.rows("project.task")[0]["id"]
    demo.touch("project.task", [late], moment.replace(microsecond=500_000), {"name": "Late"})
    assert run_connector(lakehouse, name).streams["project_task"].rows_read == 0
    _reconfigure(lakehouse, name, lookback_s=5)
    fourth = run_connector(lakehouse, name)
    assert fourth.ok and fourth.streams["project_task"].rows_read == 12  # that second, again
    assert _rows(owner_conn, prefix + "project_task", "name", f"id = {late}") == [("Late",)]


def test_deleted_records_are_soft_deleted_by_id_reconciliation(
    lakehouse: Lakehouse, add_odoo: AddOdoo, odoo: OdooServer, owner_conn: psycopg.Connection
) -> None:
    name, prefix = add_odoo(streams=["account_move", "account_move_line", "res_partner"])
    assert run_connector(lakehouse, name).ok
    demo = odoo.demo
    draft = next(r for r in demo.rows("account.move") if r["state"] == "draft")
    line_ids = [x["id"] for x in demo.rows("account.move.line") if x["move_id"][0] == draft["id"]]
    demo.delete("account.move", [draft["id"]])  # its lines go with it, as in Odoo
    demo.create(
        "res.partner",
        {"name": "New Customer Inc.", "company_id": [1, "IPAI Demo Manila"]},
        datetime(2026, 11, 21),
    )

    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert result.streams["account_move"].rows_deleted == 1
    assert result.streams["account_move_line"].rows_deleted == len(line_ids) > 0
    assert result.streams["res_partner"].rows_read == 1
    assert _rows(owner_conn, prefix + "account_move", "id", "_ipai_deleted") == [(draft["id"],)]
    assert [
        r[0] for r in _rows(owner_conn, prefix + "account_move_line", "id", "_ipai_deleted")
    ] == line_ids
    cursor = owner_conn.execute(
        "SELECT s.cursor FROM ipai_connector_state s JOIN ipai_connector_config c"
        " ON c.id = s.connector_id WHERE c.name = %s AND s.stream = 'account_move_line'",
        [name],
    ).fetchone()
    assert cursor is not None and len(cursor[0]["known_ids"]) <= 3  # ids kept as a few ranges


def test_known_ids_minus_present_ids() -> None:
    known = [[1, 5], [8, 9], [12, 12]]
    assert list(_gone(known, iter([2, 3, 5, 9, 10]))) == [1, 4, 8, 12]
    assert list(_gone(known, iter([]))) == [1, 2, 3, 4, 5, 8, 9, 12]
    assert list(_gone([], iter([1, 2]))) == []


def test_retries_5xx_and_timeouts_and_reauthenticates_an_expired_session(
    lakehouse: Lakehouse, add_odoo: AddOdoo, odoo: OdooServer, owner_conn: psycopg.Connection
) -> None:
    name, prefix = add_odoo(
        streams=["res_company", "account_journal"], timeout_s=0.4, max_retries=3
    )
    odoo.faults.extend(["500", "503"])
    assert run_connector(lakehouse, name).ok
    odoo.faults.extend(["timeout", "ok", "disconnect"])
    result = run_connector(lakehouse, name)
    assert result.ok, result.error

    signed_in = odoo.count("common", "authenticate")
    odoo.faults.extend(["ok", "ok", "session_expired"])  # the third request: mid-discovery
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert odoo.count("common", "authenticate") == signed_in + 2  # the run's sign-in, then again

    odoo.faults.extend(["500"] * 4)  # one more than max_retries allows
    failed = run_connector(lakehouse, name)
    assert not failed.ok and failed.error is not None
    assert "failed 4 time(s)" in failed.error and "HTTP 500" in failed.error
    assert _count(owner_conn, prefix + "res_company") == 2  # bronze kept as it was


def test_a_bad_field_or_domain_fails_the_run_with_odoos_own_message(
    lakehouse: Lakehouse, add_odoo: AddOdoo
) -> None:
    name, _ = add_odoo(streams=["account_move"], extra_fields={"account.move": ["x_no_such"]})
    result = run_connector(lakehouse, name)
    assert not result.ok and result.error is not None
    assert "Invalid field 'x_no_such' on model 'account.move'" in result.error

    name, _ = add_odoo(streams=["res_partner"], filters={"res.partner": [["x_nope", "=", 1]]})
    result = run_connector(lakehouse, name)
    assert not result.ok and result.error is not None
    assert "Invalid field res.partner.x_nope in leaf ('x_nope', '=', 1)" in result.error


def test_a_wrong_password_fails_the_run_and_no_password_is_recorded(
    lakehouse: Lakehouse, add_odoo: AddOdoo, odoo: OdooServer, owner_conn: psycopg.Connection
) -> None:
    wrong = "wrong-" + PASSWORD[::-1]
    name, _ = add_odoo(password=wrong, streams=["res_company"])
    result = run_connector(lakehouse, name)
    assert not result.ok and result.error is not None
    assert "authentication failed for user `admin` on database `ipai_demo`" in result.error
    assert "***" not in result.error  # the connector never wrote it, so nothing was scrubbed

    good, _ = add_odoo(streams=["res_company"])
    odoo.faults.extend(["ok", "access_denied"])  # the password changed after signing in
    denied = run_connector(lakehouse, good)
    assert not denied.ok and "authentication failed" in (denied.error or "")

    recorded = owner_conn.execute(
        "SELECT coalesce(r.error_message, ''), r.metadata::text FROM ipai_connector_run r"
        " JOIN ipai_connector_config c ON c.id = r.connector_id WHERE c.name = ANY(%s)",
        [[name, good]],
    ).fetchall()
    audit = owner_conn.execute("SELECT coalesce(details::text, '') FROM ipai_audit_log").fetchall()
    texts = [t for row in [*recorded, *audit] for t in row]
    assert len(recorded) == 2
    assert not [t for t in texts if wrong in t or PASSWORD in t]


def test_company_ids_sync_only_those_companies(
    lakehouse: Lakehouse, add_odoo: AddOdoo, owner_conn: psycopg.Connection
) -> None:
    name, prefix = add_odoo(
        streams=["res_company", "res_partner", "account_journal"], company_ids=[2]
    )
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert _rows(owner_conn, prefix + "res_company", "id, name") == [(2, "IPAI Demo Singapore")]
    companies = {r[0] for r in _rows(owner_conn, prefix + "res_partner", "company_id")}
    assert companies == {2}
    assert _count(owner_conn, prefix + "account_journal") == 5


def test_the_server_answers_in_odoos_shapes(odoo: OdooServer) -> None:
    def call(service: str, method: str, *args: Any) -> dict[str, Any]:
        params = {"service": service, "method": method, "args": list(args)}
        body = {"jsonrpc": "2.0", "method": "call", "params": params, "id": 7}
        answer: dict[str, Any] = httpx.post(f"{odoo.url}/jsonrpc", json=body).json()
        return answer

    def execute(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return call("object", "execute_kw", "ipai_demo", uid, PASSWORD, model, method, args, kwargs)

    assert call("common", "authenticate", "ipai_demo", "admin", "nope", {})["result"] is False
    uid = call("common", "authenticate", "ipai_demo", "admin", PASSWORD, {})["result"]
    fields = ["move_id", "debit", "write_date", "full_reconcile_id", "date_maturity"]
    found = execute("account.move.line", "search_read", [[["debit", ">", 0]]], {"fields": fields})
    row = found["result"][0]
    assert isinstance(row["move_id"][0], int) and isinstance(row["move_id"][1], str)
    assert isinstance(row["debit"], float) and len(row["write_date"]) == 19
    assert row["full_reconcile_id"] is False or isinstance(row["full_reconcile_id"], list)
    error = execute("account.move", "search_read", [[]], {"fields": ["bogus"]})["error"]
    assert error["code"] == 200 and error["message"] == "Odoo Server Error"
    assert error["data"]["name"] == "builtins.ValueError"
    assert error["data"]["message"] == "Invalid field 'bogus' on model 'account.move'"


def test_demo_generator_is_deterministic_balanced_and_plausible() -> None:
    started = time.perf_counter()
    demo = ErpDemo.generate(seed=3, reference_date=date(2026, 3, 1))
    assert time.perf_counter() - started < 2
    assert ErpDemo.generate(seed=3, reference_date=date(2026, 3, 1)).records == demo.records
    assert ErpDemo.generate(seed=4, reference_date=date(2026, 3, 1)).records != demo.records

    moves = demo.records["account.move"]
    sums: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in demo.records["account.move.line"].values():
        move = moves[line["move_id"][0]]
        sums[move["id"]][0] += line["debit"]
        sums[move["id"]][1] += line["credit"]
        assert line["balance"] == line["debit"] - line["credit"]
        assert line["parent_state"] == move["state"] and line["debit"].as_tuple().exponent == -2
    assert set(sums) == set(moves)
    assert all(debit == credit for debit, credit in sums.values())

    documents = [m for m in moves.values() if m["move_type"] in ("out_invoice", "in_invoice")]
    assert 1300 <= len(documents) <= 1700
    assert 5000 <= demo.count("account.move.line") <= 9000
    assert {"draft", "posted", "cancel"} == {m["state"] for m in moves.values()}
    payment_states = {m["payment_state"] for m in documents}
    assert {"not_paid", "partial", "paid", "in_payment", "reversed"} <= payment_states

    for company in (1, 2):
        posted = [
            x
            for x in demo.records["account.move.line"].values()
            if x["parent_state"] == "posted" and x["company_id"][0] == company
        ]
        by_type: dict[str, Decimal] = defaultdict(Decimal)
        accounts = demo.records["account.account"]
        for x in posted:
            by_type[accounts[x["account_id"][0]]["account_type"]] += x["balance"]
        assert -by_type["income"] > by_type["expense"] > 0  # profitable, with real costs
        receivable = [x for x in posted if x["account_id"][1].startswith("121000")]
        open_items = sum(x["amount_residual"] for x in receivable)
        assert sum(x["balance"] for x in receivable) == open_items > 0
        residual = sum(
            m["amount_residual_signed"]
            for m in moves.values()
            if m["company_id"][0] == company
            and m["state"] == "posted"
            and m["move_type"] in ("out_invoice", "out_refund")
        )
        assert residual == open_items
    for model in MODELS:
        for record in demo.records[model].values():
            assert record["write_date"] < "2026-03-01" and len(record["write_date"]) == 26
            assert model == "res.company" or record["company_id"][0] in (1, 2)
