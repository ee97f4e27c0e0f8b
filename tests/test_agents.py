"""Agents: the registry, the database role each agent gets (Postgres itself refuses what the
registry does not allow), tokens on a person's behalf, and governance — allowed tools, budgets,
deadlines — with every call logged and audited, refusals and failures included."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import TEST_JWT_SECRET, UserMaker

from ipai_core.agents import (
    AgentPolicy,
    AgentSpec,
    CallContext,
    Governance,
    ToolResult,
    add_agent,
    build_spec,
    effective_roles,
    issue_agent_token,
    list_agents,
    remove_agent,
    sync_agents,
    update_agent,
)
from ipai_core.agents.summaries import REDACTED, summarize
from ipai_core.auth.tokens import TokenService
from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied, AgentRefused, ConfigError, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.observability.tracing import TelemetryOptions, start_telemetry, stop_telemetry

IPAI = Path(sys.executable).parent / "ipai"

AgentMaker = Callable[..., tuple[str, Principal]]


@pytest.fixture(scope="module")
def agent_data(database_url: str) -> Iterator[None]:
    """Rows in two domains' gold schemas, filtered by application role like real gold data, and
    a platinum table signed-in users may write to."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE ipai_gold_devops.agent_test_kpi (domain text, kpi text, value int);
            ALTER TABLE ipai_gold_devops.agent_test_kpi ENABLE ROW LEVEL SECURITY;
            CREATE POLICY by_domain ON ipai_gold_devops.agent_test_kpi FOR SELECT TO authenticated
              USING (public.ipai_has_role(domain));
            INSERT INTO ipai_gold_devops.agent_test_kpi VALUES
              ('devops', 'deploys', 12), ('finance', 'cloud_cost', 900);
            GRANT SELECT ON ipai_gold_devops.agent_test_kpi TO authenticated;

            CREATE TABLE ipai_gold_erp.agent_test_ledger (account text, amount numeric);
            ALTER TABLE ipai_gold_erp.agent_test_ledger ENABLE ROW LEVEL SECURITY;
            CREATE POLICY finance ON ipai_gold_erp.agent_test_ledger FOR SELECT TO authenticated
              USING (public.ipai_has_role('finance'));
            INSERT INTO ipai_gold_erp.agent_test_ledger VALUES ('revenue', 1000);
            GRANT SELECT ON ipai_gold_erp.agent_test_ledger TO authenticated;

            CREATE TABLE ipai_platinum_core.agent_test_notes (note text NOT NULL);
            ALTER TABLE ipai_platinum_core.agent_test_notes ENABLE ROW LEVEL SECURITY;
            CREATE POLICY notes ON ipai_platinum_core.agent_test_notes FOR ALL TO authenticated
              USING (true) WITH CHECK (true);
            GRANT SELECT, INSERT ON ipai_platinum_core.agent_test_notes TO authenticated;
        """)
    yield


@pytest.fixture
def make_agent(lakehouse: Lakehouse, agent_data: None) -> Iterator[AgentMaker]:
    """`make_agent(schemas=[...], ...)` → (code name, the agent's principal, from a real token)."""
    made: list[str] = []

    def make(on_behalf_of: str | None = None, **fields: Any) -> tuple[str, Principal]:
        code = f"t{secrets.token_hex(4)}"
        spec = build_spec(
            code_name=code,
            display_name=f"Test agent {code}",
            **{"allowed_tools": ["run_sql", "list_datasets"], **fields},
        )
        add_agent(lakehouse, spec)
        made.append(code)
        token = issue_agent_token(lakehouse, code, on_behalf_of=on_behalf_of)
        return code, lakehouse.authenticate(token)

    yield make
    for code in made:
        with contextlib.suppress(NotFound):
            remove_agent(lakehouse, code)


def _sql_tool(statement: str) -> Callable[[CallContext, Mapping[str, Any]], ToolResult]:
    """A tool handler that runs one statement as the agent (the seam governance runs tools by)."""

    def handler(ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        with ctx.session() as s:
            frame = s.query(statement)
        return ToolResult({"rows": frame.to_dicts()}, {"rows": frame.height})

    return handler


def _runs(owner_conn: psycopg.Connection, code: str) -> list[dict[str, Any]]:
    cur = owner_conn.execute(
        "SELECT r.id::text, r.tool, r.status, r.error_message, r.user_id::text, r.input_summary,"
        "       r.output_summary, r.cost_usd, r.metadata"
        "  FROM public.ipai_agent_run r JOIN public.ipai_agent a ON a.id = r.agent_id"
        " WHERE a.code_name = %s ORDER BY r.started_at",
        [code],
    )
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _audited(owner_conn: psycopg.Connection, run_id: str) -> list[tuple[str, str]]:
    return owner_conn.execute(
        "SELECT event_type, action FROM public.ipai_audit_log WHERE details ->> 'run_id' = %s",
        [run_id],
    ).fetchall()


# --- the registry -------------------------------------------------------------------------------


def test_registry_refuses_what_governance_does_not_know() -> None:
    with pytest.raises(ConfigError, match=r"known tools: .*run_sql"):
        build_spec(code_name="x1", display_name="x", allowed_tools=["drop_database"])
    with pytest.raises(ConfigError, match="control plane"):
        build_spec(code_name="x1", display_name="x", allowed_schemas=["public"])
    with pytest.raises(ConfigError, match="needs the `schedule` operation"):
        build_spec(code_name="x1", display_name="x", allowed_tools=["run_connector"])
    with pytest.raises(ConfigError, match="code_name"):
        build_spec(code_name="Bad Name", display_name="x")


def test_agents_are_added_listed_updated_and_removed(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    code, _ = make_agent(allowed_schemas=["ipai_gold_devops"], app_roles=["devops"])
    assert code in [a.code_name for a in list_agents(lakehouse)]
    with pytest.raises(ConfigError, match="already exists"):
        add_agent(lakehouse, build_spec(code_name=code, display_name="again"))
    with pytest.raises(ConfigError, match="do not exist"):
        update_agent(lakehouse, code, allowed_schemas=["ipai_gold_nowhere"])
    updated = update_agent(lakehouse, code, latency_budget_ms=1234, is_active=False)
    assert (updated.spec.latency_budget_ms, updated.spec.is_active) == (1234, False)
    remove_agent(lakehouse, code)
    role = owner_conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [f"ipai_agent_{code}"])
    assert role.fetchone() is None


# --- identity enforced by the database ----------------------------------------------------------


def test_an_agent_runs_as_its_own_database_role(
    lakehouse: Lakehouse, make_agent: AgentMaker
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"], app_roles=["devops"])
    row = lakehouse.query(agent, "SELECT current_user AS r, auth.jwt() ->> 'ipai_agent' AS a")
    assert row.row(0) == (f"ipai_agent_{code}", code)


def test_postgres_refuses_a_schema_outside_the_agents_scope(
    lakehouse: Lakehouse, make_agent: AgentMaker
) -> None:
    _, agent = make_agent(allowed_schemas=["ipai_gold_devops"], app_roles=["devops", "finance"])
    # No governance, no SQL check: the statement goes straight to Postgres as the agent.
    with pytest.raises(AccessDenied) as refused:
        lakehouse.query(agent, "SELECT * FROM ipai_gold_erp.agent_test_ledger")
    assert refused.value.sqlstate == "42501"
    assert "schema ipai_gold_erp" in str(refused.value)
    for control_plane in ("public.ipai_agent", "public.ipai_audit_log", "auth.users"):
        with pytest.raises(AccessDenied):
            lakehouse.query(agent, f"SELECT count(*) FROM {control_plane}")
    # …while the schema it is allowed is readable, filtered by its application roles.
    rows = lakehouse.query(agent, "SELECT kpi FROM ipai_gold_devops.agent_test_kpi ORDER BY 1")
    assert rows["kpi"].to_list() == ["cloud_cost", "deploys"]


def test_private_materialized_views_stay_private(
    lakehouse: Lakehouse, make_agent: AgentMaker
) -> None:
    _, agent = make_agent(allowed_schemas=["ipai_gold_devops"], app_roles=["devops"])
    lakehouse.query(agent, "SELECT count(*) FROM ipai_gold_devops.ci_weekly")
    with pytest.raises(AccessDenied):
        lakehouse.query(agent, "SELECT count(*) FROM ipai_gold_devops.mv_ci_weekly")


def test_writing_needs_the_write_operation(lakehouse: Lakehouse, make_agent: AgentMaker) -> None:
    insert = "INSERT INTO ipai_platinum_core.agent_test_notes VALUES ('from an agent')"
    _, reader = make_agent(allowed_schemas=["ipai_platinum_core"])
    with pytest.raises(AccessDenied), lakehouse.session(reader) as s:
        s.execute(insert)
    _, writer = make_agent(
        allowed_schemas=["ipai_platinum_core"], allowed_operations=["read", "write"]
    )
    with lakehouse.session(writer) as s:
        assert s.execute(insert) == 1
    # Only where signed-in users may write, and never DELETE.
    with pytest.raises(AccessDenied), lakehouse.session(writer) as s:
        s.execute("DELETE FROM ipai_platinum_core.agent_test_notes")


def test_views_created_later_are_granted_without_a_sync(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    _, agent = make_agent(allowed_schemas=["ipai_gold_devops"], app_roles=["devops"])
    view = f"ipai_gold_devops.later_{secrets.token_hex(3)}"
    owner_conn.execute(
        f"CREATE VIEW {view} WITH (security_barrier) AS SELECT 42 AS answer"
        " WHERE public.ipai_has_role('devops')"
    )
    owner_conn.execute(f"GRANT SELECT ON {view} TO authenticated")
    assert lakehouse.query(agent, f"SELECT answer FROM {view}")["answer"].to_list() == [42]
    owner_conn.execute(f"REVOKE SELECT ON {view} FROM authenticated")
    with pytest.raises(AccessDenied):
        lakehouse.query(agent, f"SELECT answer FROM {view}")
    assert sync_agents(lakehouse) == 0  # the event trigger left nothing to do


def test_an_inactive_agent_loses_its_grants(lakehouse: Lakehouse, make_agent: AgentMaker) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"], app_roles=["devops"])
    update_agent(lakehouse, code, is_active=False)
    with pytest.raises(AccessDenied):
        lakehouse.query(agent, "SELECT count(*) FROM ipai_gold_devops.agent_test_kpi")
    update_agent(lakehouse, code, is_active=True)
    kpis = lakehouse.query(agent, "SELECT kpi FROM ipai_gold_devops.agent_test_kpi")
    assert kpis["kpi"].to_list() == ["deploys"]


def test_on_behalf_of_a_user_the_users_rls_applies(
    lakehouse: Lakehouse, make_agent: AgentMaker, make_user: UserMaker
) -> None:
    email, _, _ = make_user(["finance"])
    schemas = ["ipai_gold_devops", "ipai_gold_erp"]
    _, alone = make_agent(allowed_schemas=schemas, app_roles=["devops", "finance"])
    _, for_user = make_agent(
        on_behalf_of=email, allowed_schemas=schemas, app_roles=["devops", "finance"]
    )
    kpis = "SELECT kpi FROM ipai_gold_devops.agent_test_kpi ORDER BY 1"
    assert lakehouse.query(alone, kpis)["kpi"].to_list() == ["cloud_cost", "deploys"]
    assert lakehouse.query(for_user, kpis)["kpi"].to_list() == ["cloud_cost"]  # finance only
    assert for_user.roles == ("finance",)
    assert lakehouse.query(for_user, "SELECT auth.email() AS e")["e"].to_list() == [email]


def test_an_agent_never_sees_more_than_its_user(
    lakehouse: Lakehouse, make_agent: AgentMaker, make_user: UserMaker
) -> None:
    email, _, _ = make_user(["admin"])
    _, agent = make_agent(
        on_behalf_of=email, allowed_schemas=["ipai_gold_devops"], app_roles=["devops"]
    )
    assert agent.roles == ("devops",)  # an admin's agent keeps only its own roles
    with pytest.raises(AccessDenied):  # and its own schemas
        lakehouse.query(agent, "SELECT * FROM ipai_gold_erp.agent_test_ledger")


def test_effective_roles() -> None:
    assert effective_roles(["devops", "finance"], ["finance", "hr"]) == ("finance",)
    assert effective_roles(["devops"], ["admin"]) == ("devops",)
    assert effective_roles(["admin"], ["finance"]) == ("finance",)
    assert effective_roles([], ["admin"]) == ()


# --- governance ---------------------------------------------------------------------------------


def test_a_call_is_logged_and_audited(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"], app_roles=["devops"])
    outcome = Governance(lakehouse).call(
        agent,
        "run_sql",
        {"sql": "SELECT 1", "password": "hunter2", "note": "Bearer abc.def.ghi"},
        _sql_tool("SELECT kpi FROM ipai_gold_devops.agent_test_kpi ORDER BY kpi"),
        session_id="s-1",
    )
    assert outcome.ok and outcome.result is not None
    assert [r["kpi"] for r in outcome.result.payload["rows"]] == ["deploys"]
    (run,) = _runs(owner_conn, code)
    assert (run["id"], run["tool"], run["status"]) == (outcome.run_id, "run_sql", "success")
    assert run["input_summary"]["password"] == REDACTED
    assert "abc.def" not in json.dumps(run["input_summary"])
    assert run["output_summary"] == {"rows": 1}
    assert _audited(owner_conn, outcome.run_id or "") == [("agent_run", "success")]


def test_a_tool_not_allowed_is_refused_and_logged(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"], allowed_tools=["list_datasets"])
    ran: list[bool] = []

    def handler(ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        ran.append(True)
        return ToolResult({}, {})

    outcome = Governance(lakehouse).call(agent, "run_sql", {"sql": "SELECT 1"}, handler)
    assert (outcome.status, ran) == ("refused", [])
    assert isinstance(outcome.error, AgentRefused) and outcome.error.reason == "tool_not_allowed"
    assert f"ipai agents update {code} --tool run_sql" in str(outcome.error)
    (run,) = _runs(owner_conn, code)
    assert run["status"] == "refused" and run["metadata"]["reason"] == "tool_not_allowed"
    assert _audited(owner_conn, run["id"]) == [("agent_run", "refused")]


def test_a_database_refusal_is_recorded_as_refused(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"], app_roles=["finance"])
    outcome = Governance(lakehouse).call(
        agent, "run_sql", {}, _sql_tool("SELECT * FROM ipai_gold_erp.agent_test_ledger")
    )
    assert outcome.status == "refused" and isinstance(outcome.error, AccessDenied)
    (run,) = _runs(owner_conn, code)
    assert run["status"] == "refused" and "permission denied" in run["error_message"]


def test_a_call_after_the_daily_budget_is_spent_is_refused(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"], cost_budget_usd_per_day="0.05")
    governance = Governance(lakehouse)

    def costly(ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        return ToolResult({"answer": 42}, {"answer": 42}, tokens=1200, cost_usd=0.03)

    first = governance.call(agent, "list_datasets", {}, costly)
    assert first.ok
    # $0.02 left: the second call costs $0.03, so its result is withheld (and counted).
    second = governance.call(agent, "list_datasets", {}, costly)
    assert second.status == "failed" and getattr(second.error, "budget", None) == "cost_per_day"
    assert governance.policy(agent).spent_today == Decimal("0.06")
    third = governance.call(agent, "list_datasets", {}, _sql_tool("SELECT 1"))
    assert third.status == "refused"
    assert isinstance(third.error, AgentRefused) and third.error.reason == "cost_per_day"
    assert f"ipai agents update {code} --cost-per-day" in str(third.error)
    assert [r["status"] for r in _runs(owner_conn, code)] == ["success", "failed", "refused"]


def test_a_result_over_the_per_call_budget_is_withheld(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"], cost_budget_usd_per_call="0.01")

    def costly(ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        return ToolResult({"secret_plan": "…"}, {"rows": 1}, tokens=5000, cost_usd=0.02)

    outcome = Governance(lakehouse).call(agent, "list_datasets", {}, costly)
    assert outcome.status == "failed" and outcome.result is None
    assert getattr(outcome.error, "budget", None) == "cost_per_call"
    (run,) = _runs(owner_conn, code)
    assert run["cost_usd"] == Decimal("0.02")  # what was spent is still counted
    assert run["output_summary"]["withheld"] is True


def test_a_slow_query_is_cut_at_the_latency_budget(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    view = f"ipai_gold_devops.slow_{secrets.token_hex(3)}"
    owner_conn.execute(f"CREATE VIEW {view} AS SELECT pg_sleep(5) IS NULL AS woke")
    owner_conn.execute(f"GRANT SELECT ON {view} TO authenticated")
    try:
        _assert_cut_at_the_latency_budget(lakehouse, make_agent, owner_conn, view)
    finally:  # an unguarded gold view left behind would fail the shared database's RLS check
        owner_conn.execute(f"DROP VIEW {view}")


def _assert_cut_at_the_latency_budget(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection, view: str
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"], latency_budget_ms=700)
    started = time.monotonic()
    outcome = Governance(lakehouse).call(agent, "run_sql", {}, _sql_tool(f"SELECT * FROM {view}"))
    assert time.monotonic() - started < 3
    assert outcome.status == "failed" and getattr(outcome.error, "budget", None) == "latency"
    assert "latency budget of 700 ms" in str(outcome.error)
    (run,) = _runs(owner_conn, code)
    assert run["status"] == "failed" and "--latency-ms" in run["error_message"]
    idle = owner_conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'",
        [f"%{view}%"],
    ).fetchone()
    assert idle == (0,)  # the statement was cancelled, not left running


def test_a_slow_tool_is_cut_at_the_deadline_even_outside_the_database(
    lakehouse: Lakehouse, make_agent: AgentMaker
) -> None:
    _, agent = make_agent(allowed_schemas=["ipai_gold_devops"], latency_budget_ms=300)

    def dawdles(ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        time.sleep(3)
        return ToolResult({}, {})

    started = time.monotonic()
    outcome = Governance(lakehouse, cancel_grace_s=0.1).call(agent, "list_datasets", {}, dawdles)
    assert time.monotonic() - started < 2
    assert getattr(outcome.error, "budget", None) == "latency"


def test_an_unregistered_agent_is_refused_and_audited(
    lakehouse: Lakehouse, make_agent: AgentMaker, owner_conn: psycopg.Connection
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"])
    remove_agent(lakehouse, code)
    with pytest.raises(AgentRefused) as refused:
        Governance(lakehouse).call(agent, "run_sql", {}, _sql_tool("SELECT 1"))
    assert refused.value.reason == "unknown_agent"
    audited = owner_conn.execute(
        "SELECT count(*) FROM public.ipai_audit_log WHERE event_type = 'agent_run'"
        " AND action = 'refused' AND details ->> 'agent' = %s",
        [code],
    ).fetchone()
    assert audited == (1,)


def test_policy_refusals_are_decided_without_a_database() -> None:
    policy = AgentPolicy(
        id="1",
        code_name="bot",
        is_active=True,
        allowed_tools=("run_connector",),
        allowed_schemas=(),
        allowed_operations=("read",),
        app_roles=(),
        cost_per_day=None,
        cost_per_call=Decimal("0.5"),
        latency_ms=1000,
        spent_today=Decimal(0),
    )
    assert getattr(policy.refusal("run_connector"), "reason", None) == "operation_not_allowed"
    assert getattr(policy.refusal("nonexistent"), "reason", None) == "unknown_tool"
    assert policy.cost_limit == Decimal("0.5")


def test_summaries_are_bounded_and_scrubbed() -> None:
    long = "x" * 2000
    summary = summarize(
        {
            "api_key": "sk-123",
            "dsn": "postgresql://me:pa55@db/x",
            "rows": list(range(100)),
            "text": long,
        }
    )
    assert summary["api_key"] == REDACTED
    assert "pa55" not in summary["dsn"]
    assert len(summary["rows"]) == 21 and len(summary["text"]) < 600


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_adds_an_agent_issues_its_token_and_shows_its_runs(
    settings: Any, make_user: UserMaker, tmp_path: Path, agent_data: None
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATABASE_URL": settings.database_url.get_secret_value(),
        "IPAI_DATA_DIR": str(settings.data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
    }

    def ipai(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IPAI), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    code = f"cli{secrets.token_hex(3)}"
    email, _, _ = make_user(["devops"])
    added = ipai(
        "agents", "add", code, "--tool", "run_sql", "--schema", "ipai_gold_devops",
        "--role", "devops", "--role", "finance", "--cost-per-day", "1.50",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    shown = json.loads(ipai("agents", "show", code).stdout)
    assert Decimal(shown["cost_budget_usd_per_day"]) == Decimal("1.5")
    assert shown["database_role"] == f"ipai_agent_{code}"
    bad = ipai("agents", "add", f"{code}x", "--tool", "rm_rf")
    assert bad.returncode == 1 and "known tools" in bad.stderr
    token = ipai("agents", "token", code, "--on-behalf-of", email).stdout.strip()
    claims = TokenService(secret=TEST_JWT_SECRET).verify(token)
    assert claims["ipai_agent"] == code and claims["app_metadata"]["roles"] == ["devops"]
    assert ipai("agents", "sync").returncode == 0
    runs = ipai("agents", "runs", code, "--json")
    assert runs.returncode == 0 and json.loads(runs.stdout) == []
    removed = ipai("agents", "remove", code, "--yes")
    assert removed.returncode == 0, removed.stderr


def test_agent_spec_defaults() -> None:
    spec = AgentSpec(code_name="plain", display_name="Plain")
    assert spec.allowed_operations == ("read",) and spec.latency_budget_ms == 30_000


def test_an_agent_call_is_traced_with_its_sql(
    lakehouse: Lakehouse,
    make_agent: AgentMaker,
    owner_conn: psycopg.Connection,
    database_url: str,
) -> None:
    code, agent = make_agent(allowed_schemas=["ipai_gold_devops"])
    statement = "SELECT kpi FROM ipai_gold_devops.agent_test_kpi"

    def traced(ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        with ctx.session() as s, ctx.traced_sql(statement):
            frame = s.query(statement)
        return ToolResult({"rows": frame.to_dicts()}, {"rows": frame.height}, tokens=7)

    telemetry = start_telemetry(
        TelemetryOptions("ipai-test", database=lambda: lakehouse.db.logins, metric_interval_s=3600)
    )
    try:
        outcome = Governance(lakehouse).call(agent, "run_sql", {}, traced)
        telemetry.flush()
    finally:
        stop_telemetry()
    assert outcome.status == "success"
    call = owner_conn.execute(
        "SELECT trace_id, span_id, attributes FROM ipai_span WHERE name = 'agent.call'"
        " AND attributes ->> 'ipai.agent' = %s",
        [code],
    ).fetchone()
    assert call is not None, "no agent.call span"
    assert call[2]["ipai.tokens"] == 7
    children = owner_conn.execute(
        "SELECT name, attributes ->> 'ipai.statement' FROM ipai_span"
        " WHERE trace_id = %s AND parent_span_id = %s",
        [call[0], call[1]],
    ).fetchall()
    assert ("agent.sql", statement) in children
