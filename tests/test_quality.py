"""Data quality: every check kind passes on good data and fails on crafted bad data (scratch
tables in a database of this module's own), volume anomalies after a history, schema drift after
ALTER TABLE, the hooks after a connector run and a refresh, scheduled checks, who may do what,
and the default checks on the demo data.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import MIGRATIONS, TEST_JWT_SECRET, make_settings
from psycopg import sql

import tests.support.memory_connector  # noqa: F401  registers `test_memory`
from ipai_core.auth import users
from ipai_core.connectors import store as connectors
from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied, ConfigError, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.runner import migrate
from ipai_core.quality import board
from ipai_core.quality.checks import Volume, parse_rule
from ipai_core.quality.defaults import DEFAULT_CHECKS
from ipai_core.quality.runner import CheckOutcome, run_check, run_requested, select_checks
from ipai_core.quality.schedule import ScheduledChecks
from ipai_core.quality.store import (
    CheckSpec,
    StoredCheck,
    current_columns,
    get_check,
    make_spec,
    save_check,
)
from ipai_core.scheduler import Scheduler
from ipai_core.sync.engine import run_connector
from ipai_core.transform.runner import run_transformations
from ipai_core.vault import open_vault

SCHEMA = "ipai_bronze_dqtest"
GOLD = "ipai_gold_dqtest"
IPAI = Path(sys.executable).parent / "ipai"


# --- pure: plans and judgements ---------------------------------------------------------------


def test_identifiers_are_quoted_and_values_bound_never_pasted() -> None:
    rule = parse_rule("accepted_values", {"column": "State", "values": ["a'b", 1, True]}, check="x")
    plan = rule.plan("ipai_bronze_erp.Moves")
    text = plan.measure.as_string()
    assert '"ipai_bronze_erp"."Moves"' in text and '"State"' in text
    assert "a'b" not in text and plan.params == (["a'b", "1", "true"],)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("not_null", {"column": "id; DROP TABLE x"}),
        ("referential", {"column": "a", "to": "public.ipai_local_credential", "to_column": "id"}),
        ("freshness", {"column": "ts"}),  # max_age missing
        ("volume", {"min_ratio": 2.0, "max_ratio": 1.0}),
        ("unique", {"columns": []}),
        ("unique", {"columns": ["id"], "extra": 1}),
        ("no_such_kind", {}),
    ],
)
def test_invalid_params_are_refused_by_name(kind: str, params: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="check `bad`"):
        parse_rule(kind, params, check="bad")


def test_a_check_outside_the_lakehouse_is_refused() -> None:
    with pytest.raises(ConfigError):
        make_spec(
            name="creds",
            target="public.ipai_local_credential",
            kind="unique",
            params={"columns": ["id"]},
        )


def test_volume_judges_against_history_with_a_tolerance_floor() -> None:
    z = Volume(min_history=3)
    assert z.judge({"value": 100}, [100, 100]).passed, "too little history: collecting"
    assert "collecting" in z.judge({"value": 100}, [100]).message
    steady = [100.0, 100.0, 100.0, 100.0]
    assert z.judge({"value": 104}, steady).passed, "within 5% of a flat history"
    assert not z.judge({"value": 130}, steady).passed
    noisy = [90.0, 110.0, 95.0, 105.0]
    assert z.judge({"value": 120}, noisy).passed and not z.judge({"value": 140}, noisy).passed
    ratio = Volume(method="ratio", min_ratio=0.5, max_ratio=2.0, min_history=2)
    assert ratio.judge({"value": 150}, [100, 90, 110]).passed
    verdict = ratio.judge({"value": 40}, [100, 90, 110])
    assert not verdict.passed and verdict.observed["lower"] == 50


# --- against the database ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def dq_url(new_database: Callable[[], str]) -> str:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
        for schema in (SCHEMA, GOLD):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO service_role").format(
                    sql.Identifier(schema)
                )
            )
            conn.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO service_role"
                ).format(sql.Identifier(schema))
            )
    return url


@pytest.fixture(scope="module")
def lh(dq_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakehouse]:
    with Lakehouse.open(make_settings(dq_url, tmp_path_factory.mktemp("dq"))) as lakehouse:
        open_vault(lakehouse)
        yield lakehouse


@pytest.fixture
def owner(dq_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dq_url, autocommit=True) as conn:
        yield conn


Table = Callable[..., str]


@pytest.fixture
def table(owner: psycopg.Connection, request: pytest.FixtureRequest) -> Table:
    """`table(columns_sql, rows_sql=None)` → schema.name of a new scratch table."""

    def make(columns: str, rows: str | None = None, *, schema: str = SCHEMA) -> str:
        name = f"t_{request.node.name[5:30]}_{secrets.token_hex(2)}".lower().replace("[", "_")
        name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
        ident = sql.Identifier(schema, name)
        owner.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, sql.SQL(columns)))
        if rows:
            owner.execute(sql.SQL("INSERT INTO {} VALUES {}").format(ident, sql.SQL(rows)))
        return f"{schema}.{name}"

    return make


def define(
    lh: Lakehouse, name: str, target: str, kind: str, params: dict[str, Any], **more: Any
) -> StoredCheck:
    with lh.session(Principal.service("test: define check")) as s:
        return save_check(
            s, CheckSpec(name=name, target=target, kind=kind, params=params, **more), replace=True
        )


def run(lh: Lakehouse, check: StoredCheck) -> CheckOutcome:
    return run_check(lh, check, trigger="manual")


def execute(owner: psycopg.Connection, statement: str, target: str) -> None:
    owner.execute(sql.SQL(statement).format(t=sql.Identifier(*target.split("."))))


def test_freshness(lh: Lakehouse, table: Table, owner: psycopg.Connection) -> None:
    target = table("id int, ts timestamptz", "(1, now() - interval '10 minutes')")
    check = define(lh, "fresh", target, "freshness", {"column": "ts", "max_age": "PT1H"})
    first = run(lh, check)
    assert first.status == "pass" and 500 < first.observed["value"] < 700
    execute(owner, "UPDATE {t} SET ts = now() - interval '2 days'", target)
    stale = run(lh, check)
    assert (stale.status, stale.observed["threshold"]) == ("fail", 3600.0)
    assert "2 d" in stale.message
    execute(owner, "TRUNCATE {t}", target)
    assert run(lh, check).status == "fail", "an empty table is not fresh"


def test_not_null_with_a_sample_of_keys(
    lh: Lakehouse, table: Table, owner: psycopg.Connection
) -> None:
    target = table("id int, email text", "(1, 'a@x'), (2, 'b@x'), (3, 'c@x'), (4, 'd@x')")
    check = define(lh, "emails", target, "not_null", {"column": "email", "key_columns": ["id"]})
    assert run(lh, check).status == "pass"
    execute(owner, "UPDATE {t} SET email = NULL WHERE id = 3", target)
    bad = run(lh, check)
    assert bad.status == "fail" and bad.observed["nulls"] == 1 and bad.observed["value"] == 0.25
    assert bad.observed["sample"] == [{"id": 3}]
    (details,) = owner.execute(
        "SELECT details FROM ipai_alert WHERE key = 'dq:emails' AND state = 'firing'"
    ).fetchone()  # type: ignore[misc]
    assert details["nulls"] == 1 and "sample" not in details, "rows never leave in an alert"
    lenient = define(
        lh,
        "emails",
        target,
        "not_null",
        {"column": "email", "max_null_share": 0.3},
        severity="warn",
    )
    assert run(lh, lenient).status == "pass"


def test_unique(lh: Lakehouse, table: Table, owner: psycopg.Connection) -> None:
    target = table("a int, b text", "(1, 'x'), (1, 'y'), (2, 'x'), (NULL, 'x'), (NULL, 'x')")
    check = define(lh, "pairs", target, "unique", {"columns": ["a", "b"]})
    assert run(lh, check).status == "pass", "rows with a NULL in the key are not compared"
    execute(owner, "INSERT INTO {t} VALUES (1, 'x'), (1, 'x')", target)
    bad = run(lh, check)
    assert bad.status == "fail" and bad.observed["duplicate_rows"] == 3
    assert bad.observed["sample"] == [{"a": 1, "b": "x", "rows": 3}]


def test_accepted_values(lh: Lakehouse, table: Table, owner: psycopg.Connection) -> None:
    target = table("id int, state text", "(1, 'draft'), (2, 'posted'), (3, NULL)")
    check = define(
        lh,
        "states",
        target,
        "accepted_values",
        {"column": "state", "values": ["draft", "posted", "cancel"]},
        severity="warn",
    )
    assert run(lh, check).status == "pass"
    execute(owner, "INSERT INTO {t} VALUES (4, 'posted?'), (5, 'posted?'), (6, 'x')", target)
    bad = run(lh, check)
    assert bad.status == "warn", "a warn check that does not hold records warn"
    assert bad.observed["sample"] == [{"value": "posted?", "rows": 2}, {"value": "x", "rows": 1}]


def test_referential(lh: Lakehouse, table: Table, owner: psycopg.Connection) -> None:
    parents = table("id bigint", "(1), (2)")
    children = table("id int, parent_id bigint", "(10, 1), (11, 2), (12, NULL)")
    check = define(
        lh,
        "parents",
        children,
        "referential",
        {"column": "parent_id", "to": parents, "to_column": "id"},
    )
    assert run(lh, check).status == "pass"
    execute(owner, "INSERT INTO {t} VALUES (13, 99), (14, 99)", children)
    bad = run(lh, check)
    assert (bad.status, bad.observed["value"], bad.observed["sample"]) == (
        "fail",
        2,
        [{"value": "99"}],
    )


def test_schema_drift_after_alter_table(
    lh: Lakehouse, table: Table, owner: psycopg.Connection
) -> None:
    target = table("id int, amount numeric(12,2), note text")
    with lh.session(Principal.service("test")) as s:
        snapshot = current_columns(s, target)
    assert snapshot == {"id": "integer", "amount": "numeric(12,2)", "note": "text"}
    check = define(lh, "contract", target, "schema_drift", {"columns": snapshot})
    assert run(lh, check).status == "pass"
    execute(owner, "ALTER TABLE {t} ADD COLUMN extra int", target)
    added = run(lh, check)
    assert added.status == "fail" and added.observed["added"] == ["extra"]
    tolerant = define(
        lh,
        "contract",
        target,
        "schema_drift",
        {"columns": {**snapshot, "id": "int4"}, "allow_added": True},
    )
    assert run(lh, tolerant).status == "pass", "short type names and added columns accepted"
    execute(owner, "ALTER TABLE {t} ALTER COLUMN amount TYPE float8, DROP COLUMN note", target)
    drift = run(lh, tolerant)
    assert drift.status == "fail"
    assert drift.observed["missing"] == ["note"]
    assert drift.observed["changed"] == [
        {"column": "amount", "expected": "numeric(12,2)", "actual": "double precision"}
    ]


def test_volume_anomaly_after_a_history(
    lh: Lakehouse, table: Table, owner: psycopg.Connection
) -> None:
    target = table("id int", "(1), (2), (3), (4), (5), (6), (7), (8), (9), (10)")
    check = define(lh, "volume", target, "volume", {"min_history": 3, "max_z": 3.0})
    statuses = []
    for extra in (0, 1, 0, 1):  # 10, 11, 11, 12 rows
        if extra:
            execute(owner, "INSERT INTO {t} VALUES (100)", target)
        statuses.append(run(lh, check).status)
    assert statuses == ["pass"] * 4
    execute(owner, "INSERT INTO {t} SELECT g FROM generate_series(1, 40) g", target)
    spike = run(lh, check)
    assert spike.status == "fail" and spike.observed["value"] == 52.0
    assert spike.observed["history"] == 4 and spike.observed["upper"] < 52


def test_a_check_that_cannot_run_records_an_error_and_alerts(
    lh: Lakehouse, table: Table, owner: psycopg.Connection
) -> None:
    target = table("id int")
    check = define(lh, "vanishing", target, "unique", {"columns": ["id"]})
    assert run(lh, check).status == "pass"
    execute(owner, "DROP TABLE {t}", target)
    gone = run(lh, check)
    assert gone.status == "error" and "does not exist" in gone.message
    assert gone.alert is not None and gone.alert.change == "fired"
    owner.execute(
        'UPDATE ipai_dq_check SET params = \'{"columns": "id"}\' WHERE id = %s', [check.id]
    )
    with lh.session(Principal.service("test")) as s:
        edited = get_check(s, "vanishing")
    invalid = run(lh, edited)
    assert invalid.status == "error" and "invalid `unique` params" in invalid.message


def test_a_slow_check_is_cut_at_the_statement_timeout(
    dq_url: str, table: Table, owner: psycopg.Connection, tmp_path: Path
) -> None:
    target = table("id int", "(1)")
    slow = f"{SCHEMA}.slow_{secrets.token_hex(2)}"
    owner.execute(
        sql.SQL("CREATE VIEW {} AS SELECT t.id FROM {} t, pg_sleep(3)").format(
            sql.Identifier(*slow.split(".")), sql.Identifier(*target.split("."))
        )
    )
    owner.execute(
        sql.SQL("GRANT SELECT ON {} TO service_role").format(sql.Identifier(*slow.split(".")))
    )
    settings = make_settings(dq_url, tmp_path).model_copy(update={"dq_statement_timeout_ms": 300})
    with Lakehouse.open(settings) as quick:
        check = define(quick, "slow", slow, "unique", {"columns": ["id"]})
        outcome = run(quick, check)
    assert outcome.status == "error" and "timed out after 300 ms" in outcome.message


def test_a_failing_check_fires_one_alert_and_a_pass_resolves_it_once(
    lh: Lakehouse, table: Table, owner: psycopg.Connection
) -> None:
    target = table("id int", "(1), (1)")
    check = define(lh, "dupes", target, "unique", {"columns": ["id"]})
    changes = [run(lh, check).alert for _ in range(3)]
    assert [c and c.change for c in changes] == ["fired", "seen", "seen"]
    execute(owner, "DELETE FROM {t} WHERE ctid <> (SELECT min(ctid) FROM {t})", target)
    resolved = [run(lh, check).alert for _ in range(2)]
    assert [c and c.change for c in resolved] == ["resolved", None]
    alerts = owner.execute(
        "SELECT state, occurrences, resolved_at IS NOT NULL FROM ipai_alert WHERE key = 'dq:dupes'"
    ).fetchall()
    assert alerts == [("resolved", 3, True)]
    events = owner.execute(
        "SELECT e.event_type, e.payload -> 'alert' ->> 'key' FROM ipai_alert_event e"
        " JOIN ipai_alert a ON a.id = e.alert_id WHERE a.key = 'dq:dupes' ORDER BY e.created_at"
    ).fetchall()
    assert events == [("alert.firing", "dq:dupes"), ("alert.resolved", "dq:dupes")]
    execute(owner, "INSERT INTO {t} VALUES (1)", target)
    assert run(lh, check).alert.change == "fired", "failing again later is a new incident"  # type: ignore[union-attr]
    assert owner.execute("SELECT count(*) FROM ipai_alert WHERE key = 'dq:dupes'").fetchone() == (
        2,
    )


# --- hooks -------------------------------------------------------------------------------------


def _memory_connector(lh: Lakehouse, tmp_path: Path, name: str, rows: list[dict[str, Any]]) -> str:
    """A test_memory connector loading `rows` into `<SCHEMA>.<name>_orders`; call again with other
    rows to change the source."""
    data = tmp_path / f"{name}.json"
    stream = {"columns": {"id": "int", "state": "string"}, "primary_key": ["id"], "rows": rows}
    data.write_text(json.dumps({"streams": {"orders": stream}}))
    config = {"target_schema": SCHEMA, "table_prefix": f"{name}_", "data_file": str(data)}
    with lh.session(Principal.service("test: connector")) as s:
        connectors.add_connector(
            s, name=name, connector_type="test_memory", config=config, replace=True
        )
    return f"{SCHEMA}.{name}_orders"


def test_checks_run_after_a_connector_run_that_changed_their_target(
    lh: Lakehouse, owner: psycopg.Connection, tmp_path: Path
) -> None:
    name = f"dqhook{secrets.token_hex(2)}"
    rows = [{"id": 1, "state": "open"}, {"id": 2, "state": "bogus"}]
    target = _memory_connector(lh, tmp_path, name, rows)
    run_connector(lh, name)  # creates the bronze table
    view = f"ipai_silver_dqtest_{name}.open_orders"
    schema = sql.Identifier(view.split(".")[0])
    owner.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
    owner.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO service_role").format(schema))
    owner.execute(
        sql.SQL("CREATE VIEW {} AS SELECT * FROM {} WHERE state <> 'closed'").format(
            sql.Identifier(*view.split(".")), sql.Identifier(*target.split("."))
        )
    )
    owner.execute(
        sql.SQL("GRANT SELECT ON {} TO service_role").format(sql.Identifier(*view.split(".")))
    )
    define(
        lh,
        f"{name}.states",
        target,
        "accepted_values",
        {"column": "state", "values": ["open", "closed"]},
    )
    define(lh, f"{name}.view_ids", view, "unique", {"columns": ["id"]})
    define(lh, f"{name}.unrelated", f"{SCHEMA}.nowhere", "unique", {"columns": ["id"]})
    _memory_connector(lh, tmp_path, name, [*rows, {"id": 3, "state": "closed"}])
    result = run_connector(lh, name)
    assert result.ok
    rows_ = owner.execute(
        "SELECT c.name, r.status, r.trigger, r.run_id::text FROM ipai_dq_result r"
        " JOIN ipai_dq_check c ON c.id = r.check_id WHERE c.name LIKE %s ORDER BY c.name",
        [f"{name}.%"],
    ).fetchall()
    assert rows_ == [
        (f"{name}.states", "fail", "connector_run", result.run_id),
        (f"{name}.view_ids", "pass", "connector_run", result.run_id),
    ], "the check on the changed table and the one on a view over it ran; the other did not"


def test_a_crashing_hook_never_fails_the_connector_run(
    lh: Lakehouse, owner: psycopg.Connection, tmp_path: Path
) -> None:
    name = f"dqsafe{secrets.token_hex(2)}"
    target = _memory_connector(lh, tmp_path, name, [{"id": 1, "state": "open"}])
    check = define(lh, f"{name}.ids", target, "unique", {"columns": ["id"]})
    owner.execute("REVOKE INSERT ON ipai_dq_result FROM service_role")
    try:
        result = run_connector(lh, name)  # its checks cannot write a result: they raise
    finally:
        owner.execute("GRANT INSERT ON ipai_dq_result TO service_role")
    assert result.ok and result.streams["orders"].rows_written == 1
    assert owner.execute(
        "SELECT count(*) FROM ipai_dq_result WHERE check_id = %s", [check.id]
    ).fetchone() == (0,)


def test_checks_run_after_a_transformation_refreshed_their_view(
    lh: Lakehouse, table: Table, owner: psycopg.Connection
) -> None:
    source = table("id int, amount int", "(1, 10), (2, 20)")
    mv = f"{GOLD}.mv_{source.split('.')[1]}"
    owner.execute(
        sql.SQL(
            "CREATE MATERIALIZED VIEW {} AS SELECT mod(id, 2) AS bucket, sum(amount) AS total"
            " FROM {} GROUP BY 1"
        ).format(sql.Identifier(*mv.split(".")), sql.Identifier(*source.split(".")))
    )
    served = f"{GOLD}.{source.split('.')[1]}"
    owner.execute(
        sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
            sql.Identifier(*served.split(".")), sql.Identifier(*mv.split("."))
        )
    )
    on_mv = define(lh, f"{mv}.unique", mv, "unique", {"columns": ["bucket"]})
    on_served = define(lh, f"{served}.nulls", served, "not_null", {"column": "total"})
    execute(owner, "INSERT INTO {t} VALUES (3, NULL)", source)
    result = run_transformations(lh, [mv])
    assert result.ok
    found = dict(
        owner.execute(
            "SELECT check_id::text, status || ':' || trigger FROM ipai_dq_result"
            " WHERE check_id = ANY(%s::uuid[])",
            [[on_mv.id, on_served.id]],
        ).fetchall()
    )
    assert found == {on_mv.id: "pass:transform", on_served.id: "pass:transform"}


def test_scheduled_checks_run_on_their_cron_slot(
    lh: Lakehouse, table: Table, owner: psycopg.Connection
) -> None:
    target = table("id int", "(1)")
    check = define(lh, "hourly", target, "unique", {"columns": ["id"]}, schedule="0 * * * *")
    define(lh, "off", target, "unique", {"columns": ["id"]}, schedule="0 * * * *", enabled=False)
    (now,) = owner.execute("SELECT now()").fetchone()  # type: ignore[misc]
    scheduler = Scheduler(lh, kinds=[ScheduledChecks()], clock=lambda: now + timedelta(minutes=61))
    try:
        report = scheduler.tick()
        assert [(r.kind, r.label) for r in report.enqueued] == [("dq_check", "hourly")]
        (finished,) = scheduler.drain()
    finally:
        scheduler.close()
    assert finished.outcome.status == "success" and "hourly: pass" in str(finished.outcome.detail)
    assert owner.execute(
        "SELECT trigger FROM ipai_dq_result WHERE check_id = %s", [check.id]
    ).fetchall() == [("schedule",)]


# --- who may do what --------------------------------------------------------------------------


def _user(lh: Lakehouse, *roles: str) -> Principal:
    email = f"dq-{secrets.token_hex(3)}@example.test"
    password = secrets.token_urlsafe(12)
    users.add_user(lh.db, email, password, list(roles))
    return lh.authenticate(users.sign_in(lh.db, lh.tokens, email, password))


def test_data_engineers_define_checks_auditors_read_only_service_writes_results(
    lh: Lakehouse, table: Table
) -> None:
    target = table("id int", "(1)")
    engineer, auditor, analyst = (
        _user(lh, "data_engineer"),
        _user(lh, "auditor"),
        _user(lh, "analyst"),
    )
    with lh.session(engineer) as s:
        check = save_check(
            s,
            CheckSpec(name="by-engineer", target=target, kind="unique", params={"columns": ["id"]}),
        )
    run(lh, check)
    with lh.session(auditor) as s:
        assert "by-engineer" in s.query("SELECT name FROM ipai_dq_check")["name"].to_list()
        assert s.scalar("SELECT count(*) FROM ipai_dq_result WHERE check_id = %s", [check.id]) == 1
    with pytest.raises(AccessDenied), lh.session(auditor) as s:
        save_check(
            s,
            CheckSpec(name="by-auditor", target=target, kind="unique", params={"columns": ["id"]}),
        )
    with pytest.raises(AccessDenied), lh.session(engineer) as s:
        s.execute(
            "INSERT INTO ipai_dq_result (check_id, started_at, finished_at, status, message,"
            " trigger) VALUES (%s, now(), now(), 'pass', 'forged', 'manual')",
            [check.id],
        )
    with lh.session(analyst) as s:
        assert s.scalar("SELECT count(*) FROM ipai_dq_check") == 0


def test_only_data_engineers_may_request_a_run(
    lh: Lakehouse, table: Table, owner: psycopg.Connection
) -> None:
    target = table("id int", "(1)")
    define(lh, "requested", target, "unique", {"columns": ["id"]})
    engineer, auditor = _user(lh, "data_engineer"), _user(lh, "auditor")
    outcomes = run_requested(lh, engineer, ["requested"])
    assert [(o.check, o.status) for o in outcomes] == [("requested", "pass")]
    assert owner.execute(
        "SELECT r.trigger, r.requested_by::text, c.last_requested_by::text FROM ipai_dq_result r"
        " JOIN ipai_dq_check c ON c.id = r.check_id WHERE c.name = 'requested'"
    ).fetchall() == [("manual", engineer.user_id, engineer.user_id)]
    with pytest.raises(AccessDenied):
        run_requested(lh, auditor, ["requested"])
    with pytest.raises(NotFound):
        select_checks(lh, names=["no-such-check"])


def test_the_board_lists_failing_checks_first(lh: Lakehouse, table: Table) -> None:
    good = table("id int", "(1)")
    bad = table("id int", "(1), (1)")
    run(lh, define(lh, "board-a-good", good, "unique", {"columns": ["id"]}))
    run(lh, define(lh, "board-b-bad", bad, "unique", {"columns": ["id"]}))
    with lh.session(_user(lh, "auditor")) as s:
        frame = board.status_board(s)
        history = board.result_history(s, "board-b-bad")
    statuses = frame["status"].to_list()
    assert statuses == sorted(statuses, key=board.STATUSES.index)
    names = frame["check"].to_list()
    assert names.index("board-b-bad") < names.index("board-a-good")
    assert history["status"].to_list() == ["fail"] and history["value"].to_list() == [1.0]
    counts = board.status_counts(frame)
    assert counts["fail"] >= 1 and sum(counts.values()) == frame.height


def test_cli_adds_runs_and_lists_results(dq_url: str, table: Table, tmp_path: Path) -> None:
    target = table("id int", "(1), (1)")
    env = {
        "IPAI_DATABASE_URL": dq_url,
        "IPAI_DATA_DIR": str(tmp_path),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
        "PATH": "/usr/bin:/bin",
    }

    def ipai(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IPAI), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    added = ipai("quality", "add", "cli-drift", "--target", target, "--kind", "schema_drift")
    assert added.returncode == 0, added.stderr
    assert (
        ipai(
            "quality",
            "add",
            "cli-unique",
            "--target",
            target,
            "--kind",
            "unique",
            "--params",
            '{"columns": ["id"]}',
        ).returncode
        == 0
    )
    refused = ipai(
        "quality",
        "add",
        "cli-bad",
        "--target",
        target,
        "--kind",
        "unique",
        "--params",
        '{"columns": "id"}',
    )
    assert refused.returncode == 1 and "invalid `unique` params" in refused.stderr
    ran = ipai("quality", "run", "--target", target)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "pass   cli-drift" in ran.stdout and "fail   cli-unique" in ran.stdout
    listed = ipai("quality", "list", "--json")
    by_name = {c["name"]: c for c in json.loads(listed.stdout)}
    assert by_name["cli-drift"]["params"]["columns"] == {"id": "integer"}
    assert by_name["cli-unique"]["status"] == "fail"
    results = json.loads(ipai("quality", "results", "--check", "cli-unique", "--json").stdout)
    assert [(r["status"], r["observed"]["value"]) for r in results] == [("fail", 1)]


# --- the demo's default checks ----------------------------------------------------------------


def test_the_default_checks_run_on_the_demo_data(demo_lakehouse: Lakehouse) -> None:
    with demo_lakehouse.session(Principal.service("test: board")) as s:
        frame = board.status_board(s)
        triggers = set(s.query("SELECT DISTINCT trigger FROM ipai_dq_result")["trigger"].to_list())
    by_name = {r["check"]: r for r in frame.iter_rows(named=True)}
    assert set(by_name) == {c.name for c in DEFAULT_CHECKS} | {
        "erp.profit_and_loss.schema",
        "devops.ci_weekly.schema",
        "retail.sales_daily.schema",
    }
    assert triggers == {"connector_run", "transform"}
    not_ok = {n: (r["status"], r["message"]) for n, r in by_name.items() if r["status"] != "pass"}
    assert not_ok == {}, not_ok
