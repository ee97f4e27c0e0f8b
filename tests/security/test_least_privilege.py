"""Least privilege on the embedded server: no request session runs as the owner or a superuser,
and none can switch to a role it was not opened for — refused by Postgres itself, with the Python
check (`statement_guard`) in front of it as a second line."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from conftest import UserMaker

from ipai_core import Lakehouse, Principal
from ipai_core.agents import Governance, add_agent, build_spec, issue_agent_token, remove_agent
from ipai_core.db.logins import AGENTS_LOGIN, SERVICE_LOGIN, USERS_LOGIN
from ipai_core.db.statement_guard import check_statement
from ipai_core.errors import AccessDenied, IdentityChangeRefused
from ipai_core.mcp.tools import Toolbox
from ipai_core.orchestration.runner import Orchestrator

HOSTILE_STATEMENTS = [
    "RESET ROLE",
    "SET ROLE service_role",
    "set local role ipai_owner",
    'SET "role" TO postgres',
    "SET SESSION AUTHORIZATION postgres",
    "RESET ALL",
    "SELECT set_config('role', 'service_role', true)",
    "SELECT pg_catalog.set_config('role', 'postgres', true)",
    'SELECT "set_config"(\'request.jwt.claims\', \'{"role":"service_role"}\', true)',
    "SELECT set_config('request.jwt.claims', '{}', true), 1",
    "SELECT set_config('search_path', 'pg_temp, public', true)",
    "SELECT 1; SET ROLE service_role; SELECT 2",
    "/* hello */ RESET ROLE",
    "DO $$ BEGIN EXECUTE 'SET ROLE service_role'; END $$",
    "DO $x$ BEGIN PERFORM set_config('role', 'postgres', true); END $x$",
    "SET search_path TO pg_temp, public",
    "CREATE OR REPLACE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "create procedure pg_temp.p() language plpgsql as $$ begin null; end $$",
]


def _session_user(lh: Lakehouse, principal: Principal) -> tuple[str, str, bool]:
    with lh.session(principal) as s:
        row = s.query(
            "SELECT session_user::text AS login, current_user::text AS role,"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) AS superuser"
        ).row(0)
    return str(row[0]), str(row[1]), bool(row[2])


def test_each_kind_of_session_signs_in_as_its_own_login_role(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    _, _, token = make_user(["finance"])
    assert _session_user(lakehouse, lakehouse.authenticate(token)) == (
        USERS_LOGIN,
        "authenticated",
        False,
    )
    assert _session_user(lakehouse, Principal.anonymous()) == (USERS_LOGIN, "anon", False)
    assert _session_user(lakehouse, Principal.service("test: login role")) == (
        SERVICE_LOGIN,
        "service_role",
        False,
    )


def test_an_agent_session_signs_in_as_the_agents_login(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection
) -> None:
    add_agent(lakehouse, build_spec(code_name="lp_probe", display_name="Least privilege probe"))
    try:
        principal = lakehouse.authenticate(issue_agent_token(lakehouse, "lp_probe"))
        assert _session_user(lakehouse, principal) == (AGENTS_LOGIN, "ipai_agent_lp_probe", False)
        members = owner_conn.execute(
            "SELECT m.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid"
            " JOIN pg_roles m ON m.oid = a.member WHERE r.rolname = 'ipai_agent_lp_probe'"
        ).fetchall()
        assert USERS_LOGIN not in {m[0] for m in members}  # people cannot become the agent
    finally:
        remove_agent(lakehouse, "lp_probe")


def test_an_mcp_tool_cannot_switch_role_or_claims(lakehouse: Lakehouse) -> None:
    spec = build_spec(
        code_name="lp_sql",
        display_name="Least privilege SQL probe",
        allowed_tools=["run_sql"],
        allowed_schemas=["ipai_gold_erp"],
    )
    add_agent(lakehouse, spec)
    try:
        agent = lakehouse.authenticate(issue_agent_token(lakehouse, "lp_sql"))
        run_sql = Toolbox(Orchestrator(lambda: lakehouse)).tools()["run_sql"].handler
        governance = Governance(lakehouse)
        for statement in (
            "SELECT set_config('role', 'service_role', true)",
            "SELECT set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true)",
            "WITH x AS (SELECT set_config('role', 'ipai_owner', true)) SELECT * FROM x",
        ):
            outcome = governance.call(agent, "run_sql", {"sql": statement}, run_sql)
            assert outcome.status == "refused", (statement, outcome)
    finally:
        remove_agent(lakehouse, "lp_sql")


def test_the_owner_that_runs_migrations_is_not_a_superuser(owner_conn: psycopg.Connection) -> None:
    row = owner_conn.execute(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == ("ipai_owner", False, False)


@pytest.mark.parametrize("login", [USERS_LOGIN, AGENTS_LOGIN, SERVICE_LOGIN])
def test_login_roles_hold_nothing_and_reach_only_what_they_were_granted(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection, login: str
) -> None:
    add_agent(lakehouse, build_spec(code_name="lp_reach", display_name="Reach probe"))
    try:
        _assert_login_reach(owner_conn, login)
    finally:
        remove_agent(lakehouse, "lp_reach")


def _assert_login_reach(owner_conn: psycopg.Connection, login: str) -> None:
    attributes = owner_conn.execute(
        "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin"
        " FROM pg_roles WHERE rolname = %s",
        [login],
    ).fetchone()
    assert attributes == (False, False, False, False, False, True)
    reachable = {
        str(r[0])
        for r in owner_conn.execute(
            "SELECT r.rolname FROM pg_roles r WHERE pg_has_role(%s, r.oid, 'SET')"
            " AND r.rolname <> %s",
            [login, login],
        ).fetchall()
    }
    expected = {
        USERS_LOGIN: {"anon", "authenticated"},
        SERVICE_LOGIN: {"service_role"},
    }.get(login)
    if expected is not None:
        assert reachable == expected
    else:
        assert "ipai_agent_lp_reach" in reachable
        # agent roles, and their shared group (through them): nothing a person or the service has
        assert all(r.startswith("ipai_agent_") or r == "ipai_agents" for r in reachable), reachable


def test_lakehouse_query_refuses_every_statement_that_changes_identity(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    _, _, token = make_user(["admin"])
    me = lakehouse.authenticate(token)
    for statement in HOSTILE_STATEMENTS:
        with pytest.raises(IdentityChangeRefused) as refused:
            lakehouse.query(me, statement)
        assert refused.value.principal == me.label
        assert isinstance(refused.value, AccessDenied)


def test_the_guard_lets_ordinary_statements_through() -> None:
    for statement in [
        "SELECT 1",
        "UPDATE public.t SET role = 'x' WHERE id = 1",
        "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a",
        "SET LOCAL statement_timeout = 1000",
        "SET LOCAL transaction_read_only = on",
        "SELECT set_config('statement_timeout', '5000', true)",
        "SELECT 'set role is only text' AS note",
        "SET TRANSACTION READ ONLY",
        "SELECT current_setting('role')",
        "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO NOTHING",
        "SELECT 'do' AS word, 'create function' AS phrase",
    ]:
        check_statement(statement, principal="test")


def test_postgres_refuses_a_role_switch_even_past_the_python_guard(
    lakehouse: Lakehouse, make_user: UserMaker, superuser_url: str, tmp_path: Path
) -> None:
    """The attack of the report: leave the role, then run as the login role. Straight on the
    session's connection (no guard): the login role can become nothing else and holds nothing."""
    _, _, token = make_user(["finance"])
    me = lakehouse.authenticate(token)
    for target in ("service_role", "ipai_owner", "postgres", "ipai_agents_authenticator"):
        with lakehouse.session(me) as s, pytest.raises(psycopg.errors.InsufficientPrivilege):
            s.connection.execute(
                "SELECT set_config('role', %s, true)", [target]
            )  # the guard is not in this path
    with lakehouse.session(me) as s:
        s.connection.execute("RESET ROLE")
        assert s.connection.execute("SELECT current_user::text").fetchone() == (USERS_LOGIN,)
        for statement in (
            "SELECT count(*) FROM public.ipai_connector_config",
            "SELECT count(*) FROM ipai_bronze_erp.account_move",
            "SELECT rolpassword FROM pg_authid",
            f"COPY (SELECT 1) TO PROGRAM 'touch {tmp_path}/owned'",
            "CREATE ROLE ipai_attacker LOGIN SUPERUSER",
            "SELECT pg_read_file('postgresql.conf')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                s.connection.execute("SAVEPOINT probe")
                try:
                    s.connection.execute(statement)
                finally:
                    s.connection.execute("ROLLBACK TO SAVEPOINT probe")
    assert not (tmp_path / "owned").exists()
    with psycopg.connect(superuser_url) as su:
        assert (
            su.execute("SELECT 1 FROM pg_roles WHERE rolname = 'ipai_attacker'").fetchone() is None
        )


def test_a_login_role_signed_in_directly_cannot_read_or_escalate(lakehouse: Lakehouse) -> None:
    """What a leaked login password gives: no table, no catalog secret, no other role."""
    with psycopg.connect(lakehouse.db.logins.users, autocommit=True) as conn:
        for statement in (
            "SELECT count(*) FROM auth.users",
            "SELECT rolpassword FROM pg_authid",
            "SET ROLE service_role",
            "SET ROLE ipai_owner",
            "CREATE ROLE ipai_attacker2",
            "CREATE SCHEMA ipai_attacker",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
