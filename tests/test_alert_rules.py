"""Alert rules: each kind fires on a crafted condition, once (deduplicated while firing), and
resolves with a message; messages reach a local receiver in Slack and n8n formats with their
runbook linked, only the rule's destinations get them, deliveries are retried and recorded; the
scheduler runs the rules; and every rule kind has a runbook. The module has its own database."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from conftest import MIGRATIONS, make_settings

from ipai_core.alerts.delivery import deliver_due
from ipai_core.alerts.destinations import DestinationSpec, add_destination
from ipai_core.db.principal import Principal
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.runner import migrate
from ipai_core.observability.alert_rules import (
    RULE_KINDS,
    AlertRule,
    Evaluation,
    evaluate,
    list_rules,
    runbook_path,
)
from ipai_core.observability.jobs import AlertRules
from ipai_core.scheduler import Scheduler
from ipai_core.settings import PROJECT_ROOT
from tests.support.http_receiver import HttpReceiver, http_receiver

RUNBOOK_SECTIONS = ("## What it means", "## How to check", "## How to fix")


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as started:
        yield started


@pytest.fixture(scope="module")
def url(new_database: Callable[[], str]) -> str:
    created = new_database()
    with psycopg.connect(created, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
        # The seeded rules look at everything; these tests use rules of their own.
        conn.execute("UPDATE ipai_alert_rule SET enabled = false")
    return created


@pytest.fixture(scope="module")
def lh(
    url: str, tmp_path_factory: pytest.TempPathFactory, receiver: HttpReceiver
) -> Iterator[Lakehouse]:
    with Lakehouse.open(make_settings(url, tmp_path_factory.mktemp("rules"))) as opened:
        with opened.session(Principal.service("test: destinations")) as s:
            for name, fmt in (("ops-slack", "slack"), ("ops-n8n", "n8n")):
                add_destination(
                    s, DestinationSpec(name=name, format=fmt, url=receiver.url(f"/{name}"))
                )
        yield opened


@pytest.fixture
def owner(url: str, receiver: HttpReceiver) -> Iterator[psycopg.Connection]:
    receiver.received.clear()
    receiver.script.clear()
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


def _rule(
    owner: psycopg.Connection,
    kind: str,
    params: dict[str, Any],
    *,
    destinations: tuple[str, ...] = (),
    severity: str = "error",
) -> str:
    name = f"test-{kind.replace('_', '-')}-{secrets.token_hex(3)}"
    owner.execute(
        "INSERT INTO ipai_alert_rule (name, kind, params, severity, destinations, created_at)"
        " VALUES (%s, %s, %s, %s, %s, now() - interval '1 hour')",
        [name, kind, json.dumps(params), severity, list(destinations)],
    )
    return name


def _evaluate(lh: Lakehouse, name: str) -> Evaluation:
    with lh.session(Principal.service("test: evaluate a rule")) as s:
        (rule,) = [r for r in list_rules(s) if r.name == name]
        return evaluate(s, rule)


def _posts(receiver: HttpReceiver, destination: str, rule: str) -> list[Any]:
    """The JSON bodies `destination` received about `rule`'s alerts (other tests' alerts are
    delivered by the same passes)."""
    key = f"rule:{rule}:".encode()
    return [p.json() for p in receiver.posts(f"/{destination}") if key in p.body]


def _changes(evaluation: Evaluation) -> list[str]:
    return [c.change for c in evaluation.changes]


def _connector(owner: psycopg.Connection, *statuses: str) -> str:
    """A connector whose runs ended (oldest first) with `statuses`, the last one 5 minutes ago."""
    name = f"rules-{secrets.token_hex(3)}"
    owner.execute(
        "INSERT INTO ipai_connector_config (connector_type, name, config)"
        " VALUES ('file', %s, '{}')",
        [name],
    )
    for age, status in enumerate(reversed(statuses)):
        _run(owner, name, status, minutes_ago=5 + 10 * age)
    return name


def _run(owner: psycopg.Connection, connector: str, status: str, *, minutes_ago: float) -> None:
    owner.execute(
        "INSERT INTO ipai_connector_run (connector_id, started_at, ended_at, status, error_message)"
        " SELECT id, now() - make_interval(mins => %s + 1), now() - make_interval(mins => %s), %s,"
        " CASE WHEN %s = 'failed' THEN 'SourceError: host unreachable' END"
        " FROM ipai_connector_config WHERE name = %s",
        [minutes_ago, minutes_ago, status, status, connector],
    )


# --- fire once, resolve once, deliver -----------------------------------------------------------


def test_a_rule_fires_once_and_resolves_with_messages_that_link_the_runbook(
    lh: Lakehouse, owner: psycopg.Connection, receiver: HttpReceiver
) -> None:
    connector = _connector(owner, "success", "failed")
    rule = _rule(owner, "connector_failed", {"connector": connector})

    first, again = _evaluate(lh, rule), _evaluate(lh, rule)
    deliver_due(lh)
    assert _changes(first) == ["fired"] and _changes(again) == ["seen"]
    (firing,) = _posts(receiver, "ops-slack", rule)
    assert "FIRING" in firing["text"] and "SourceError" in firing["text"]
    assert "docs/runbooks/connector_failed.md" in firing["text"]
    (event,) = _posts(receiver, "ops-n8n", rule)
    alert = event["alert"]
    assert (alert["key"], alert["occurrences"]) == (f"rule:{rule}:{connector}", 1)
    assert alert["details"]["runbook"] == "docs/runbooks/connector_failed.md"

    _run(owner, connector, "success", minutes_ago=1)
    resolved, quiet = _evaluate(lh, rule), _evaluate(lh, rule)
    deliver_due(lh)
    assert _changes(resolved) == ["resolved"] and _changes(quiet) == []
    slack = [p["text"] for p in _posts(receiver, "ops-slack", rule)]
    assert len(slack) == 2 and "RESOLVED" in slack[1] and "fine again" in slack[1]
    deliveries = owner.execute(
        "SELECT d.status, count(*) FROM ipai_alert_delivery d JOIN ipai_alert_event e"
        " ON e.id = d.event_id JOIN ipai_alert a ON a.id = e.alert_id WHERE a.source = %s"
        " GROUP BY 1",
        [f"rule:{rule}"],
    ).fetchall()
    assert deliveries == [("delivered", 4)]  # firing + resolved, to two destinations


def test_consecutive_failures_are_needed_before_it_fires(
    lh: Lakehouse, owner: psycopg.Connection
) -> None:
    connector = _connector(owner, "success", "failed")
    rule = _rule(owner, "connector_failed", {"connector": connector, "consecutive": 2})

    assert _changes(_evaluate(lh, rule)) == []
    _run(owner, connector, "failed", minutes_ago=1)
    assert _changes(_evaluate(lh, rule)) == ["fired"]


def test_only_the_rule_s_destinations_get_its_messages(
    lh: Lakehouse, owner: psycopg.Connection, receiver: HttpReceiver
) -> None:
    connector = _connector(owner, "failed")
    rule = _rule(owner, "connector_failed", {"connector": connector}, destinations=("ops-n8n",))

    assert _changes(_evaluate(lh, rule)) == ["fired"]
    deliver_due(lh)

    assert len(_posts(receiver, "ops-n8n", rule)) == 1
    assert _posts(receiver, "ops-slack", rule) == []


def test_a_failed_delivery_is_retried_and_every_attempt_recorded(
    lh: Lakehouse, owner: psycopg.Connection, receiver: HttpReceiver
) -> None:
    connector = _connector(owner, "failed")
    rule = _rule(owner, "connector_failed", {"connector": connector}, destinations=("ops-slack",))
    receiver.script["/ops-slack"] = [503, 200]

    _evaluate(lh, rule)
    deliver_due(lh)
    deliver_due(lh, now=datetime.now().astimezone() + timedelta(hours=2))

    attempts = owner.execute(
        "SELECT d.attempt, d.status, d.http_status FROM ipai_alert_delivery d"
        " JOIN ipai_alert_event e ON e.id = d.event_id JOIN ipai_alert a ON a.id = e.alert_id"
        " WHERE a.source = %s ORDER BY d.attempt",
        [f"rule:{rule}"],
    ).fetchall()
    assert attempts == [(1, "retrying", 503), (2, "delivered", 200)]
    assert len(_posts(receiver, "ops-slack", rule)) == 2


def test_a_subject_that_disappears_is_resolved(lh: Lakehouse, owner: psycopg.Connection) -> None:
    connector = _connector(owner, "failed")
    rule = _rule(owner, "connector_failed", {"connector": connector})
    assert _changes(_evaluate(lh, rule)) == ["fired"]

    owner.execute(
        "UPDATE ipai_connector_config SET is_enabled = false WHERE name = %s", [connector]
    )

    assert _changes(_evaluate(lh, rule)) == ["resolved"]
    summary = owner.execute(
        "SELECT summary FROM ipai_alert WHERE key = %s", [f"rule:{rule}:{connector}"]
    ).fetchone()
    assert summary is not None and "no longer observed" in summary[0]


# --- every kind ---------------------------------------------------------------------------------


def _slo_burn(owner: psycopg.Connection) -> dict[str, Any]:
    connector = _connector(owner, *(["success"] * 5), "failed")
    slo = f"rules-slo-{secrets.token_hex(3)}"
    owner.execute(
        "INSERT INTO ipai_slo (name, description, kind, objective, time_window, params)"
        " VALUES (%s, 'test', 'connector_success_rate', 0.99, '1 day', %s)",
        [slo, json.dumps({"connector": connector})],
    )
    return {"slo": slo}


def _connector_failed(owner: psycopg.Connection) -> dict[str, Any]:
    return {"connector": _connector(owner, "failed")}


def _dq_failed(owner: psycopg.Connection) -> dict[str, Any]:
    prefix = f"ipai_gold_core.rules_{secrets.token_hex(3)}"
    owner.execute(
        "WITH c AS (INSERT INTO ipai_dq_check (name, target, kind, params)"
        " VALUES (%s, %s, 'not_null', '{\"columns\": [\"id\"]}') RETURNING id)"
        " INSERT INTO ipai_dq_result (check_id, started_at, finished_at, status, message, trigger)"
        " SELECT id, now() - interval '2 minutes', now() - interval '2 minutes', s, m, 'manual'"
        " FROM c, (VALUES ('pass', 'all ids set'), ('fail', '3 rows have no id')) v(s, m)",
        [f"rules.{secrets.token_hex(3)}", f"{prefix}_table"],
    )
    owner.execute(
        "UPDATE ipai_dq_result r SET started_at = now() - interval '1 hour',"
        " finished_at = now() - interval '1 hour' FROM ipai_dq_check c"
        " WHERE c.id = r.check_id AND c.target = %s AND r.status = 'pass'",
        [f"{prefix}_table"],
    )
    return {"target_prefix": prefix}


def _agent_errors(owner: psycopg.Connection) -> dict[str, Any]:
    agent = f"rules-bot-{secrets.token_hex(3)}"
    owner.execute(
        "INSERT INTO ipai_agent (code_name, display_name, agent_type) VALUES (%s, %s, 'custom')",
        [agent, agent],
    )
    owner.execute(
        "INSERT INTO ipai_agent_run (agent_id, started_at, ended_at, status, error_message)"
        " SELECT id, now() - g * interval '1 minute', now() - g * interval '1 minute', 'failed',"
        " 'latency budget exceeded' FROM ipai_agent, generate_series(1, 5) g WHERE code_name = %s",
        [agent],
    )
    return {"agent": agent, "threshold": 5}


def _uptime(owner: psycopg.Connection) -> dict[str, Any]:
    target = f"rules_{secrets.token_hex(3)}"
    owner.execute(
        "INSERT INTO ipai_uptime_probe (target, url, probed_at, up, status_code, error, probed_by)"
        " SELECT %s, 'http://127.0.0.1/healthz', now() - g * interval '1 minute', false, 503,"
        " 'HTTP 503', 'test' FROM generate_series(0, 2) g",
        [target],
    )
    return {"target": target, "consecutive": 3}


CRAFTED: dict[str, Callable[[psycopg.Connection], dict[str, Any]]] = {
    "slo_burn": _slo_burn,
    "connector_failed": _connector_failed,
    "dq_failed": _dq_failed,
    "agent_errors": _agent_errors,
    "uptime": _uptime,
}


@pytest.mark.parametrize("kind", RULE_KINDS)
def test_every_kind_fires_on_its_condition_with_its_runbook(
    kind: str, lh: Lakehouse, owner: psycopg.Connection
) -> None:
    rule = _rule(owner, kind, CRAFTED[kind](owner))

    evaluation = _evaluate(lh, rule)

    assert _changes(evaluation) == ["fired"], evaluation.observations
    row = owner.execute(
        "SELECT summary, details FROM ipai_alert WHERE source = %s AND state = 'firing'",
        [f"rule:{rule}"],
    ).fetchone()
    assert row is not None
    summary, details = row
    assert details["runbook"] == runbook_path(kind) and f"Runbook: {runbook_path(kind)}" in summary
    assert (PROJECT_ROOT / details["runbook"]).is_file()


def test_uptime_fires_when_nobody_probes(lh: Lakehouse, owner: psycopg.Connection) -> None:
    rule = _rule(owner, "uptime", {"target": "never-probed"})
    evaluation = _evaluate(lh, rule)
    assert _changes(evaluation) == ["fired"]
    assert "no probe" in evaluation.observations[0].summary


# --- the scheduler ------------------------------------------------------------------------------


def test_the_scheduler_evaluates_enabled_rules_and_refuses_bad_params(
    lh: Lakehouse, owner: psycopg.Connection
) -> None:
    connector = _connector(owner, "failed")
    good = _rule(owner, "connector_failed", {"connector": connector})
    bad = _rule(owner, "agent_errors", {"threshold": 0, "colour": "red"})
    off = _rule(owner, "uptime", {"target": "never-probed"})
    owner.execute(  # the other tests' rules and `off`: two jobs for the scheduler's two workers
        "UPDATE ipai_alert_rule SET enabled = false WHERE name <> ALL(%s)", [[good, bad]]
    )

    report = Scheduler(lh, kinds=[AlertRules()]).run_once()

    outcomes = {f.job.key: f for f in report.finished}
    ids = dict(owner.execute("SELECT name, id::text FROM ipai_alert_rule").fetchall())
    assert outcomes[ids[good]].outcome.status == "success"
    assert "1 fired" in str(outcomes[ids[good]].outcome.detail)
    failed = outcomes[ids[bad]]
    assert (failed.outcome.status, failed.outcome.retryable, failed.row_status) == (
        "failed",
        False,
        "failed",
    )
    assert "threshold" in str(failed.outcome.detail) and "colour" in str(failed.outcome.detail)
    assert ids[off] not in outcomes
    firing = owner.execute(
        "SELECT count(*) FROM ipai_alert WHERE source = %s AND state = 'firing'", [f"rule:{good}"]
    ).fetchone()
    assert firing == (1,)


# --- runbooks -----------------------------------------------------------------------------------


def test_every_rule_kind_has_a_runbook_and_every_runbook_a_rule_kind() -> None:
    runbooks = {p.stem for p in (PROJECT_ROOT / "docs" / "runbooks").glob("*.md")}
    assert runbooks == set(RULE_KINDS)
    for kind in RULE_KINDS:
        text = (PROJECT_ROOT / runbook_path(kind)).read_text()
        assert text.startswith(f"# Runbook: `{kind}`")
        for section in RUNBOOK_SECTIONS:
            assert section in text, f"{kind}: no `{section}`"
        assert "```bash" in text and "```sql" in text, f"{kind}: exact commands and queries"


def test_the_database_knows_exactly_the_rule_kinds_that_have_runbooks(
    owner: psycopg.Connection,
) -> None:
    row = owner.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conname = 'alert_rule_kind_known'"
    ).fetchone()
    assert row is not None
    assert set(re.findall(r"'([a-z_]+)'", row[0])) == set(RULE_KINDS)
    seeded = {r[0] for r in owner.execute("SELECT DISTINCT kind FROM ipai_alert_rule")}
    assert seeded == set(RULE_KINDS), "one seeded rule per kind"


def test_rule_records_expose_their_alert_keys() -> None:
    rule = AlertRule(
        "id", "demo", "uptime", {}, "error", (), "* * * * *", True, datetime.now().astimezone()
    )
    assert rule.key("workspace") == "rule:demo:workspace"
