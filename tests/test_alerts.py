"""Alerts and outgoing webhooks against a real local receiver (an HTTP server in this process):
each payload format, signatures and bearer tokens, retries with every attempt recorded, a dead
destination that blocks nothing, run events for subscribers only, secrets that never leak, the
scheduler's delivery job, the CLI, and who may read what."""

from __future__ import annotations

import json
import logging
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import MIGRATIONS, TEST_JWT_SECRET, make_settings

import tests.support.memory_connector  # noqa: F401  registers `test_memory`
from ipai_core.alerts.delivery import DeliveryReport, deliver_due, send_test
from ipai_core.alerts.destinations import DestinationSpec, add_destination
from ipai_core.alerts.events import OutgoingEvent
from ipai_core.alerts.job import AlertDeliveries
from ipai_core.alerts.payloads import render
from ipai_core.alerts.state import AlertChange, fire, resolve
from ipai_core.auth import users
from ipai_core.connectors import store as connectors
from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied
from ipai_core.events.signatures import verify
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.runner import migrate
from ipai_core.scheduler import Scheduler
from ipai_core.sync.engine import run_connector
from ipai_core.transform.runner import run_transformations
from ipai_core.vault import open_vault

IPAI = Path(sys.executable).parent / "ipai"


# --- the receiver -------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers each path from its script of statuses (then 200). A 5xx
    answer echoes the request's Authorization header and path, as a careless server might."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def reset(self) -> None:
        self.received.clear()
        self.script.clear()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.received.append(Received(self.path, headers, body))
            planned = state.script.get(self.path) or [200]
            status = planned.pop(0) if len(planned) > 1 else planned[0]
            echo = f"{headers.get('authorization', '')} at {self.path}" if status >= 500 else "ok"
            self.send_response(status)
            self.end_headers()
            self.wfile.write(echo.encode())

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


# --- the database -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alerts_url(new_database: Callable[[], str]) -> str:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
    return url


@pytest.fixture(scope="module")
def lh(alerts_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakehouse]:
    with Lakehouse.open(make_settings(alerts_url, tmp_path_factory.mktemp("alerts"))) as lakehouse:
        open_vault(lakehouse)
        yield lakehouse


@pytest.fixture
def owner(alerts_url: str, receiver: Receiver) -> Iterator[psycopg.Connection]:
    """The owner's connection; every test starts with no destination, no pending delivery and
    a quiet receiver."""
    receiver.reset()
    with psycopg.connect(alerts_url, autocommit=True) as conn:
        conn.execute("DELETE FROM ipai_alert_destination")
        yield conn
        conn.execute("DELETE FROM ipai_alert_destination")


def destination(lh: Lakehouse, name: str, fmt: str, url: str | None = None, **more: Any) -> str:
    spec = DestinationSpec(name=name, format=fmt, url=url, **more)  # type: ignore[arg-type]
    with lh.session(Principal.service("test: destination")) as s:
        return add_destination(s, spec).id


def raise_alert(lh: Lakehouse, key: str, severity: str = "error") -> AlertChange:
    with lh.session(Principal.service("test: fire")) as s:
        return fire(
            s,
            key=key,
            source="test",
            severity=severity,  # type: ignore[arg-type]
            summary=f"{key} is broken <here> & there",
            details={"rows": 3},
        )


def db_now(owner: psycopg.Connection) -> datetime:
    row = owner.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def attempts(owner: psycopg.Connection, destination_id: str) -> list[tuple[Any, ...]]:
    return owner.execute(
        "SELECT attempt, status, http_status FROM ipai_alert_delivery WHERE destination_id = %s"
        " ORDER BY event_id, attempt",
        [destination_id],
    ).fetchall()


def with_settings(lh: Lakehouse, **changes: Any) -> Lakehouse:
    """The same pool with other settings."""
    return Lakehouse(lh.settings.model_copy(update=changes), lh.db, lh.tokens)


# --- payloads (pure) ----------------------------------------------------------------------------


def test_each_format_renders_its_documented_shape() -> None:
    event = OutgoingEvent(
        "alert.firing",
        "error",
        "dq:x failed <3 rows>",
        alert={"key": "dq:x", "severity": "error"},
    ).payload()
    slack = render("slack", event)
    assert set(slack) == {"text", "blocks"}
    assert slack["text"] == ":red_circle: FIRING · error · dq:x: dq:x failed &lt;3 rows&gt;"
    assert [b["type"] for b in slack["blocks"]] == ["section", "context"]
    mattermost = render("mattermost", event)
    assert set(mattermost) == {"text", "username"} and "dq:x failed <3 rows>" in mattermost["text"]
    assert render("n8n", event) == render("generic", event) == event
    assert set(event) == {
        "id",
        "type",
        "severity",
        "occurred_at",
        "summary",
        "source",
        "alert",
        "data",
    }


# --- delivery -----------------------------------------------------------------------------------


def test_an_alert_reaches_slack_mattermost_and_n8n_once_each(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver
) -> None:
    vault = open_vault(lh)
    vault.put("test/hmac", "hmac-key-" + secrets.token_hex(8))
    vault.put("test/bearer", "bearer-" + secrets.token_hex(8))
    destination(lh, "slack", "slack", receiver.url("/slack"))
    destination(
        lh, "mm", "mattermost", receiver.url("/mm"), auth="bearer", secret_ref="test/bearer"
    )
    destination(lh, "n8n", "n8n", receiver.url("/n8n"), auth="hmac", secret_ref="test/hmac")
    destination(lh, "quiet", "generic", receiver.url("/quiet"), min_severity="error")
    change = raise_alert(lh, "fmt:warn", severity="warn")
    assert (change.change, change.deliveries) == ("fired", 3), "`quiet` wants errors only"
    again = raise_alert(lh, "fmt:warn", severity="warn")
    assert (again.change, again.deliveries) == ("seen", 0), "seen again while firing: no message"

    report = deliver_due(lh)
    assert (report.delivered, report.retrying, report.failed) == (3, 0, 0)
    (slack,), (mm,), (n8n,) = receiver.at("/slack"), receiver.at("/mm"), receiver.at("/n8n")
    assert receiver.at("/quiet") == []
    assert "FIRING · warn · fmt:warn" in slack.json()["text"] and slack.json()["blocks"]
    assert mm.json()["username"] == "IPAI Databricks" and "fmt:warn" in mm.json()["text"]
    assert mm.headers["authorization"] == f"Bearer {vault.get('test/bearer').reveal()}"
    event = n8n.json()
    assert (event["type"], event["alert"]["key"], event["alert"]["details"]) == (
        "alert.firing",
        "fmt:warn",
        {"rows": 3},
    )
    assert n8n.headers["x-ipai-delivery"] == event["id"] == slack.headers["x-ipai-delivery"]
    verify("hmac-sha256", vault.get("test/hmac"), n8n.headers, n8n.body, now=time.time())
    assert "authorization" not in n8n.headers and "x-ipai-signature" not in slack.headers
    assert deliver_due(lh).delivered == 0, "each message is sent once"

    with lh.session(Principal.service("test: resolve")) as s:
        resolved = resolve(s, key="fmt:warn", summary="fmt:warn is fine again", details={})
        assert resolve(s, key="fmt:warn", summary="again", details={}) is None
    assert resolved is not None and resolved.deliveries == 3
    deliver_due(lh)
    assert [r.json()["type"] for r in receiver.at("/n8n")] == ["alert.firing", "alert.resolved"]
    assert "RESOLVED · warn · fmt:warn" in receiver.at("/slack")[1].json()["text"]


def test_a_500_is_retried_with_backoff_and_every_attempt_recorded(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver
) -> None:
    target = destination(lh, "flaky", "generic", receiver.url("/flaky"))
    receiver.script["/flaky"] = [500, 200]
    raise_alert(lh, "retry:me")
    first = deliver_due(lh)
    assert (first.delivered, first.retrying) == (0, 1)
    assert deliver_due(lh).delivered == 0, "the retry waits for its backoff"
    row = owner.execute(
        "SELECT due_at - now() FROM ipai_alert_delivery WHERE destination_id = %s AND attempt = 2",
        [target],
    ).fetchone()
    assert row is not None and timedelta(seconds=10) < row[0] <= timedelta(seconds=30)
    second = deliver_due(lh, now=db_now(owner) + timedelta(minutes=2))
    assert second.delivered == 1
    assert attempts(owner, target) == [(1, "retrying", 500), (2, "delivered", 200)]
    (error,) = owner.execute(
        "SELECT error FROM ipai_alert_delivery WHERE destination_id = %s AND attempt = 1", [target]
    ).fetchone()  # type: ignore[misc]
    assert error.startswith("HTTP 500")
    bodies = [r.json()["id"] for r in receiver.at("/flaky")]
    assert len(bodies) == 2 and bodies[0] == bodies[1], "the same event, so receivers can dedupe"


def test_a_4xx_fails_at_once_and_retries_stop_after_the_last_attempt(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver
) -> None:
    gone = destination(lh, "gone", "generic", receiver.url("/gone"))
    down = destination(lh, "down", "generic", receiver.url("/down"))
    receiver.script["/gone"] = [404]
    receiver.script["/down"] = [503]
    raise_alert(lh, "stops:here")
    two_tries = with_settings(lh, alert_max_attempts=2)
    deliver_due(two_tries)
    deliver_due(two_tries, now=db_now(owner) + timedelta(minutes=5))
    assert deliver_due(two_tries, now=db_now(owner) + timedelta(hours=1)) == DeliveryReport()
    assert attempts(owner, gone) == [(1, "failed", 404)]
    assert attempts(owner, down) == [(1, "retrying", 503), (2, "failed", 503)]


def test_a_dead_destination_never_blocks_a_connector_run(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver, tmp_path: Path
) -> None:
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)  # accepts connections into the backlog and never answers
    try:
        dead = destination(
            lh,
            "black-hole",
            "n8n",
            f"http://127.0.0.1:{hole.getsockname()[1]}/hook",
            event_types=("connector_run.finished", "alert.firing"),
        )
        alive = destination(
            lh, "alive", "n8n", receiver.url("/alive"), event_types=("alert.firing",)
        )
        name = _memory_connector(lh, tmp_path, [{"id": 1}])
        started = time.monotonic()
        assert run_connector(lh, name).ok
        assert time.monotonic() - started < 5, "the run only queued its event"
        raise_alert(lh, "dead:one")
        raise_alert(lh, "dead:two")
        started = time.monotonic()
        report = deliver_due(with_settings(lh, alert_http_timeout_s=0.5))
        assert time.monotonic() - started < 3, "one timeout per pass, not one per message"
    finally:
        hole.close()
    assert (report.delivered, report.retrying, report.deferred) == (2, 1, 2)
    assert [r.json()["alert"]["key"] for r in receiver.at("/alive")] == ["dead:one", "dead:two"]
    (error,) = owner.execute(
        "SELECT error FROM ipai_alert_delivery WHERE destination_id = %s AND status = 'retrying'",
        [dead],
    ).fetchone()  # type: ignore[misc]
    assert error.startswith("ReadTimeout")
    pending = owner.execute(
        "SELECT attempt, attempted_at FROM ipai_alert_delivery WHERE destination_id = %s"
        " AND status = 'pending' ORDER BY attempt",
        [dead],
    ).fetchall()
    assert pending == [(1, None), (1, None), (2, None)], "deferred attempts stay unspent"
    assert attempts(owner, alive) == [(1, "delivered", 200), (1, "delivered", 200)]


def _memory_connector(lh: Lakehouse, tmp_path: Path, rows: list[dict[str, Any]]) -> str:
    name = f"alerts{secrets.token_hex(3)}"
    data = tmp_path / f"{name}.json"
    stream = {"columns": {"id": "int"}, "primary_key": ["id"], "rows": rows}
    data.write_text(json.dumps({"streams": {"items": stream}}))
    config = {
        "target_schema": "ipai_bronze_core",
        "table_prefix": f"{name}_",
        "data_file": str(data),
    }
    with lh.session(Principal.service("test: connector")) as s:
        connectors.add_connector(s, name=name, connector_type="test_memory", config=config)
    return name


def test_run_events_go_to_subscribers_only(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver, tmp_path: Path
) -> None:
    def stored() -> int:
        row = owner.execute(
            "SELECT count(*) FROM ipai_alert_event WHERE event_type LIKE 'connector_run.%'"
        ).fetchone()
        return int(row[0]) if row else 0

    before = stored()
    quiet = _memory_connector(lh, tmp_path, [{"id": 1}])
    assert run_connector(lh, quiet).ok
    assert stored() == before, "nobody subscribes: nothing stored"
    destination(
        lh,
        "orchestrator",
        "n8n",
        receiver.url("/n8n"),
        event_types=("connector_run.finished", "connector_run.failed", "transform_run.finished"),
    )
    destination(lh, "alerts-only", "slack", receiver.url("/slack"))
    good = _memory_connector(lh, tmp_path, [{"id": 1}, {"id": 2}])
    bad = _memory_connector(lh, tmp_path, [])
    owner.execute(
        'UPDATE ipai_connector_config SET config = config || \'{"data_file": "/nonexistent"}\''
        " WHERE name = %s",
        [bad],
    )
    good_run, bad_run = run_connector(lh, good), run_connector(lh, bad)
    assert good_run.ok and not bad_run.ok
    assert run_transformations(lh, ["ipai_gold_retail.mv_sales_daily"]).ok
    deliver_due(lh)
    events = [r.json() for r in receiver.at("/n8n")]
    assert [(e["type"], e["severity"]) for e in events] == [
        ("connector_run.finished", "info"),
        ("connector_run.failed", "error"),
        ("transform_run.finished", "info"),
    ]
    finished, failed, refreshed = (e["data"] for e in events)
    assert (finished["connector"], finished["run_id"], finished["rows_written"]) == (
        good,
        good_run.run_id,
        2,
    )
    assert failed["error"] == bad_run.error and failed["status"] == "failed"
    assert refreshed["views"][0]["view"] == "ipai_gold_retail.mv_sales_daily"
    assert receiver.at("/slack") == []


def test_a_destination_secret_never_reaches_a_row_a_log_or_an_error(
    lh: Lakehouse,
    owner: psycopg.Connection,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    alerts_url: str,
    tmp_path: Path,
) -> None:
    token = "T0" + secrets.token_hex(12)
    bearer = "sk-" + secrets.token_hex(16)
    vault = open_vault(lh)
    vault.put("slack/ops-url", receiver.url(f"/services/{token}"))
    vault.put("slack/ops-bearer", bearer)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    vault.put("slack/dead-url", f"http://127.0.0.1:{port}/services/{token}")
    receiver.script[f"/services/{token}"] = [500]
    hidden = destination(
        lh,
        "ops",
        "slack",
        url_secret_ref="slack/ops-url",
        auth="bearer",
        secret_ref="slack/ops-bearer",
    )
    refused = destination(lh, "ops-dead", "slack", url_secret_ref="slack/dead-url")
    raise_alert(lh, "secret:test")
    with caplog.at_level(logging.DEBUG):
        deliver_due(lh)
        attempt = send_test(lh, "ops")
    assert receiver.at(f"/services/{token}"), "the URL from the vault was used"
    errors = [
        e
        for (e,) in owner.execute(
            "SELECT error FROM ipai_alert_delivery WHERE destination_id = ANY(%s::uuid[])",
            [[hidden, refused]],
        ).fetchall()
        if e
    ]
    assert len(errors) == 2 and attempt.error is not None
    text = " ".join([*errors, attempt.error, caplog.text])
    assert "HTTP 500" in text and "ConnectError" in text
    assert token not in text and bearer not in text, text
    assert "***" in errors[0] or "***" in errors[1], "the echoed secret was masked, not dropped"

    env = {
        "IPAI_DATABASE_URL": alerts_url,
        "IPAI_DATA_DIR": str(lh.settings.data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
        "PATH": "/usr/bin:/bin",
    }
    shown = _ipai(env, tmp_path, "alerts", "destinations", "list", "--json")
    tested = _ipai(env, tmp_path, "alerts", "test", "ops")
    assert tested.returncode == 1 and "did not accept" in tested.stderr
    for output in (shown.stdout, tested.stdout + tested.stderr):
        assert token not in output and bearer not in output
    assert {d["name"]: d["url"] for d in json.loads(shown.stdout)}["ops"] == "vault:slack/ops-url"


def _ipai(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IPAI), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_manages_destinations_tests_them_and_lists_alerts(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver, alerts_url: str, tmp_path: Path
) -> None:
    env = {
        "IPAI_DATABASE_URL": alerts_url,
        "IPAI_DATA_DIR": str(lh.settings.data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
        "PATH": "/usr/bin:/bin",
    }
    added = _ipai(
        env,
        tmp_path,
        "alerts",
        "destinations",
        "add",
        "team",
        "--format",
        "mattermost",
        "--url",
        receiver.url("/team"),
        "--event",
        "alert.firing",
        "--event",
        "connector_run.failed",
    )
    assert added.returncode == 0, added.stderr
    invalid = _ipai(
        env,
        tmp_path,
        "alerts",
        "destinations",
        "add",
        "x",
        "--format",
        "teams",
        "--url",
        receiver.url("/x"),
    )
    assert invalid.returncode == 1 and "destination `x` is invalid" in invalid.stderr
    assert _ipai(env, tmp_path, "alerts", "test", "team").returncode == 0
    (sent,) = receiver.at("/team")
    assert "Test message" in sent.json()["text"]
    listed = json.loads(_ipai(env, tmp_path, "alerts", "destinations", "list", "--json").stdout)
    assert [(d["name"], d["event_types"]) for d in listed] == [
        ("team", ["alert.firing", "connector_run.failed"])
    ]
    raise_alert(lh, "cli:alert")
    alerts = json.loads(_ipai(env, tmp_path, "alerts", "list", "--json").stdout)
    assert "cli:alert" in [a["key"] for a in alerts]
    delivered = _ipai(env, tmp_path, "alerts", "deliver", "--json")
    assert json.loads(delivered.stdout)["delivered"] >= 1
    assert _ipai(env, tmp_path, "alerts", "destinations", "remove", "team").returncode == 0
    audited = owner.execute(
        "SELECT action FROM ipai_audit_log WHERE event_type = 'alert' AND entity_type ="
        " 'destination' AND details ->> 'name' = 'team' ORDER BY created_at"
    ).fetchall()
    assert audited == [("saved",), ("removed",)]


def test_the_scheduler_drains_the_outbox_while_a_destination_is_enabled(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver
) -> None:
    with lh.session(Principal.service("test")) as s:
        assert AlertDeliveries().targets(s) == []
    destination(lh, "scheduled", "generic", receiver.url("/scheduled"))
    raise_alert(lh, "scheduled:one")
    later = db_now(owner) + timedelta(minutes=2)
    scheduler = Scheduler(lh, kinds=[AlertDeliveries()], clock=lambda: later)
    try:
        assert [r.kind for r in scheduler.tick().enqueued] == ["alert_delivery"]
        (finished,) = scheduler.drain()
    finally:
        scheduler.close()
    assert finished.outcome.status == "success" and "1 delivered" in str(finished.outcome.detail)
    assert [r.json()["alert"]["key"] for r in receiver.at("/scheduled")] == ["scheduled:one"]


def _user(lh: Lakehouse, *roles: str) -> Principal:
    email = f"al-{secrets.token_hex(3)}@example.test"
    password = secrets.token_urlsafe(12)
    users.add_user(lh.db, email, password, list(roles))
    return lh.authenticate(users.sign_in(lh.db, lh.tokens, email, password))


def test_operators_read_alerts_auditors_only_alerts_nobody_writes(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver
) -> None:
    destination(lh, "rls", "generic", receiver.url("/rls"))
    raise_alert(lh, "rls:check")
    tables = ("ipai_alert_destination", "ipai_alert", "ipai_alert_event", "ipai_alert_delivery")

    def visible(principal: Principal) -> tuple[bool, ...]:
        with lh.session(principal) as s:
            return tuple(bool(s.scalar(f"SELECT count(*) FROM public.{t}")) for t in tables)

    assert visible(_user(lh, "devops")) == (True, True, True, True)
    assert visible(_user(lh, "data_engineer")) == (True, True, True, True)
    assert visible(_user(lh, "auditor")) == (False, True, True, False)
    assert visible(_user(lh, "finance")) == (False, False, False, False)
    with pytest.raises(AccessDenied), lh.session(_user(lh, "admin")) as s:
        s.execute("UPDATE public.ipai_alert SET state = 'resolved', resolved_at = now()")


def test_a_missing_vault_secret_is_retried_and_named(
    lh: Lakehouse, owner: psycopg.Connection, receiver: Receiver
) -> None:
    target = destination(
        lh, "unset", "generic", receiver.url("/unset"), auth="bearer", secret_ref="test/not-set"
    )
    raise_alert(lh, "vault:missing")
    assert deliver_due(lh).retrying == 1
    (error,) = owner.execute(
        "SELECT error FROM ipai_alert_delivery WHERE destination_id = %s AND attempt = 1", [target]
    ).fetchone()  # type: ignore[misc]
    assert "`test/not-set` does not exist" in error
    assert receiver.at("/unset") == []
