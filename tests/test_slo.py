"""SLOs as data: the seeded objectives and `public.ipai_slo_status` computed from crafted run
histories (success rate, p95 latency, failed calls per project and day, availability), their
error budgets and burn rates; who may read them; and `ipai slo status`. The module has its own
database: the views aggregate every run, so no other test's runs may count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import MIGRATIONS, TEST_JWT_SECRET, make_settings

from ipai_core import Lakehouse, Principal
from ipai_core.auth import users
from ipai_core.migrate.runner import migrate
from ipai_core.observability.slo import SloStatus, slo_status

IPAI = Path(sys.executable).parent / "ipai"


@pytest.fixture(scope="module")
def slo_url(new_database: Callable[[], str]) -> str:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
        _craft_history(conn)
    return url


@pytest.fixture(scope="module")
def lh(slo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakehouse]:
    with Lakehouse.open(make_settings(slo_url, tmp_path_factory.mktemp("slo"))) as opened:
        yield opened


def _craft_history(conn: psycopg.Connection) -> None:
    """Runs relative to now: see each test for the numbers they must produce."""
    conn.execute(
        "INSERT INTO ipai_connector_config (connector_type, name, config) VALUES"
        " ('file', 'alpha', '{}'), ('file', 'beta', '{}')"
    )
    # alpha: 200 finished runs, one every 43 minutes (the newest 43 min ago): 1 within the last
    # hour, 8 within 6 hours; runs 1, 5 and 100 failed.
    conn.execute(
        "INSERT INTO ipai_connector_run (connector_id, started_at, ended_at, status)"
        " SELECT c.id, now() - i * interval '43 minutes' - interval '1 minute',"
        " now() - i * interval '43 minutes', CASE WHEN i IN (1, 5, 100) THEN 'failed'"
        " ELSE 'success' END FROM ipai_connector_config c, generate_series(1, 200) i"
        " WHERE c.name = 'alpha'"
    )
    # beta: failures outside the 7-day window, and a run still going: neither counts.
    conn.execute(
        "INSERT INTO ipai_connector_run (connector_id, started_at, ended_at, status)"
        " SELECT c.id, now() - interval '9 days', now() - interval '9 days', 'failed'"
        " FROM ipai_connector_config c, generate_series(1, 5) WHERE c.name = 'beta'"
    )
    conn.execute(
        "INSERT INTO ipai_connector_run (connector_id, status) SELECT id, 'running'"
        " FROM ipai_connector_config WHERE name = 'beta'"
    )
    conn.execute(
        "INSERT INTO ipai_agent (code_name, display_name, agent_type) VALUES"
        " ('latency-bot', 'Latency bot', 'custom'), ('finance-bot', 'Finance bot', 'custom')"
    )
    # latency-bot: 38 calls of 1 s and 2 of 9 s today; a refused one and an old slow one don't
    # count.
    conn.execute(
        "INSERT INTO ipai_agent_run (agent_id, started_at, ended_at, status, latency_ms)"
        " SELECT a.id, now() - i * interval '20 minutes', now() - i * interval '20 minutes',"
        " 'success', CASE WHEN i <= 2 THEN 9000 ELSE 1000 END"
        " FROM ipai_agent a, generate_series(1, 40) i WHERE a.code_name = 'latency-bot'"
    )
    conn.execute(
        "INSERT INTO ipai_agent_run (agent_id, started_at, ended_at, status, latency_ms)"
        " SELECT a.id, now() - interval '1 hour', now() - interval '1 hour', 'refused', 60000"
        " FROM ipai_agent a WHERE a.code_name = 'latency-bot'"
        " UNION ALL SELECT a.id, now() - interval '2 days', now() - interval '2 days',"
        " 'success', 60000 FROM ipai_agent a WHERE a.code_name = 'latency-bot'"
    )
    # finance-bot: 12 failed calls for project finance today (2 within the last hour), 1 for
    # project retail.
    conn.execute(
        "INSERT INTO ipai_agent_run (agent_id, started_at, ended_at, status, latency_ms, metadata)"
        " SELECT a.id, now() - i * interval '50 minutes', now() - i * interval '50 minutes',"
        " 'failed', 100, jsonb_build_object('project', CASE WHEN i = 13 THEN 'retail'"
        " ELSE 'finance' END) FROM ipai_agent a, generate_series(1, 13) i"
        " WHERE a.code_name = 'finance-bot'"
    )
    conn.execute(
        "UPDATE ipai_agent_run SET started_at = now() - interval '10 minutes',"
        " ended_at = now() - interval '10 minutes' WHERE metadata ->> 'project' = 'finance'"
        " AND started_at = (SELECT max(started_at) FROM ipai_agent_run"
        " WHERE metadata ->> 'project' = 'finance' AND started_at < now() - interval '90 minutes')"
    )
    # workspace probes: one a minute (30 s past each minute) for 1,000 minutes; the probes 30
    # and 500 minutes ago were down. Another target's outage does not count.
    conn.execute(
        "INSERT INTO ipai_uptime_probe (target, url, probed_at, up, latency_ms, probed_by)"
        " SELECT 'workspace', 'http://127.0.0.1/healthz', now() - g * interval '1 minute'"
        " - interval '30 seconds', g NOT IN (30, 500), 12, 'test' FROM generate_series(0, 999) g"
        " UNION ALL SELECT 'other', 'http://other/healthz', now(), false, 1, 'test'"
    )
    conn.execute(
        "INSERT INTO ipai_slo (name, description, kind, objective, time_window, params) VALUES"
        " ('latency-bot-p95', 'p95 of one agent', 'agent_p95_latency', 5000, '1 day',"
        ' \'{"agent": "latency-bot", "percentile": 0.95}\')'
    )


@pytest.fixture(scope="module")
def status(lh: Lakehouse) -> dict[str, SloStatus]:
    with lh.session(Principal.service("test: slo status")) as s:
        return {slo.label: slo for slo in slo_status(s)}


def test_the_issue_s_four_objectives_are_seeded(status: dict[str, SloStatus]) -> None:
    kinds = {s.name: (s.kind, s.objective, s.window.days) for s in status.values()}
    assert kinds["connector-success-rate"] == ("connector_success_rate", 0.99, 7)
    assert kinds["agent-p95-latency"] == ("agent_p95_latency", 5000, 1)
    assert kinds["agent-failed-calls"] == ("agent_failed_calls_per_day", 10, 1)
    assert kinds["app-availability"] == ("app_availability", 0.999, 30)


def test_connector_success_rate_budget_and_burn(status: dict[str, SloStatus]) -> None:
    slo = status["connector-success-rate"]
    assert (slo.events, slo.bad) == (200, 3)
    assert slo.current_value == pytest.approx(0.985)
    assert not slo.objective_met
    assert slo.error_budget == pytest.approx(2.0)  # 1 % of 200 runs
    assert slo.budget_remaining == pytest.approx(-0.5)  # 3 failures spent 150 % of it
    assert slo.burn_rate_1h == pytest.approx(100.0)  # 1 of 1 failed, budget 1 %
    assert slo.burn_rate_6h == pytest.approx(25.0)  # 2 of 8
    assert slo.burn_rate_window == pytest.approx(1.5)


def test_agent_p95_latency(status: dict[str, SloStatus]) -> None:
    slo = status["latency-bot-p95"]
    assert (slo.events, slo.bad) == (40, 2)  # refused and old calls left out
    assert slo.current_value == pytest.approx(1400.0)  # percentile_cont between 1 s and 9 s
    assert slo.objective_met
    assert slo.budget_remaining == pytest.approx(0.0)  # 5 % slow calls: the whole budget
    assert slo.burn_rate_window == pytest.approx(1.0)
    assert slo.burn_rate_1h == pytest.approx(20.0)  # 2 of 2 calls (20 and 40 min ago) slow


def test_failed_agent_calls_are_counted_per_project(status: dict[str, SloStatus]) -> None:
    finance, retail = status["agent-failed-calls (finance)"], status["agent-failed-calls (retail)"]
    assert finance.current_value == pytest.approx(12.0) and not finance.objective_met
    assert finance.budget_remaining == pytest.approx(-0.2)  # 12 of 10 allowed
    assert finance.burn_rate_1h == pytest.approx(2 / (10 / 24))  # 2 failures within the hour
    assert retail.current_value == pytest.approx(1.0) and retail.objective_met
    assert retail.budget_remaining == pytest.approx(0.9)
    assert status["agent-failed-calls (default)"].bad == 0, "latency-bot's project has none"


def test_app_availability_from_uptime_probes(status: dict[str, SloStatus]) -> None:
    slo = status["app-availability"]
    assert (slo.events, slo.bad) == (1000, 2)
    assert slo.current_value == pytest.approx(0.998)
    assert not slo.objective_met
    assert slo.budget_remaining == pytest.approx(-1.0)
    assert slo.burn_rate_1h == pytest.approx((1 / 60) / 0.001, rel=1e-3)
    assert slo.show(slo.current_value) == "99.80 %"


def test_a_disabled_slo_is_not_computed(lh: Lakehouse) -> None:
    with lh.session(Principal.service("test: disable an slo")) as s:
        s.execute("UPDATE ipai_slo SET enabled = false WHERE name = 'latency-bot-p95'")
        names = {slo.name for slo in slo_status(s)}
        s.execute("UPDATE ipai_slo SET enabled = true WHERE name = 'latency-bot-p95'")
    assert "latency-bot-p95" not in names


def test_only_admins_devops_and_auditors_read_slos(lh: Lakehouse) -> None:
    seen = {}
    for role in ("devops", "auditor", "analyst", "ai_engineer"):
        email = f"slo-{role}@example.test"
        users.add_user(lh.db, email, "correct horse battery", [role])
        principal = lh.authenticate(users.sign_in(lh.db, lh.tokens, email, "correct horse battery"))
        with lh.session(principal) as s:
            seen[role] = len(slo_status(s))
            runs = s.scalar("SELECT count(*) FROM public.ipai_observed_connector_run")
        seen[f"{role} runs"] = runs
    assert seen["devops"] >= 5 and seen["auditor"] == seen["devops"]
    assert seen["analyst"] == 0 and seen["ai_engineer"] == 0
    assert seen["devops runs"] == 206 and seen["analyst runs"] == 0


def test_ipai_slo_status_prints_a_table_and_json(slo_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATABASE_URL": slo_url,
        "IPAI_DATA_DIR": str(tmp_path),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
        "IPAI_TELEMETRY_TO_POSTGRES": "false",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IPAI), "slo", "status", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    table, as_json, check = run(), run("--json"), run("--check")

    assert table.returncode == 0, table.stderr
    assert "connector-success-rate" in table.stdout and "98.50 %" in table.stdout
    document = {f"{d['name']}/{d['subject']}": d for d in json.loads(as_json.stdout)}
    assert document["connector-success-rate/all"]["bad"] == 3
    assert document["agent-failed-calls/finance"]["objective_met"] is False
    assert check.returncode == 1, "an objective is missed"
