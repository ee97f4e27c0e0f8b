"""Revocation that takes effect (issue 16, point 6): after sign-out, a revoked role, a deleted
user, ended sessions, a removed or disabled agent, the old token is useless at the next request —
`Lakehouse.authenticate`, the workspace, the REST routes, MCP over stdio and HTTP and
`ipai genie --token` — refused with `InvalidToken` (reason `revoked`) and nothing written.

Real servers throughout: the embedded PostgreSQL, the workspace served by uvicorn, `ipai mcp
serve` and `ipai genie` as subprocesses."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import subprocess
import sys
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import psycopg
import pytest
from conftest import TEST_JWT_SECRET, UserMaker
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from streamlit.testing.v1 import AppTest  # noqa: TID251 - the workspace as a browser runs it

from ipai_core.agents import add_agent, build_spec, issue_agent_token, remove_agent, update_agent
from ipai_core.auth import users
from ipai_core.auth.claims import REVOKED
from ipai_core.auth.revocation import sign_out
from ipai_core.errors import InvalidToken, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.orchestration.routes import build_orchestration_routes
from ipai_core.settings import Settings
from ipai_core.workspace import identity
from ipai_core.workspace.routes import SESSION_COOKIE, build_routes
from ipai_core.workspace.server import MAIN_SCRIPT
from tests.support.served_workspace import served_workspace

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

IPAI = Path(sys.executable).parent / "ipai"
NO_SUCH_CONNECTOR = "/api/connectors/no_such_connector/runs"  # 404 for an engineer, else 403


def refused(lakehouse: Lakehouse, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        lakehouse.authenticate(token)
    assert caught.value.reason == REVOKED
    return caught.value


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(lakehouse: Lakehouse) -> Iterator[TestClient]:
    """The workspace's routes and the REST routes, in process, on the test database."""
    routes = build_routes(lambda: lakehouse) + build_orchestration_routes(lambda: lakehouse)
    with TestClient(Starlette(routes=routes), follow_redirects=False) as client:
        yield client


@pytest.fixture
def agents(lakehouse: Lakehouse) -> Iterator[Callable[..., str]]:
    """`agents(on_behalf_of=EMAIL)` → code name of a new registered agent (removed afterwards)."""
    made: list[str] = []

    def make(**spec: Any) -> str:
        code = f"rev{secrets.token_hex(3)}"
        fields: dict[str, Any] = {
            "code_name": code,
            "display_name": "Revocation probe",
            "allowed_tools": ["list_datasets", "run_sql"],
            "allowed_schemas": ["ipai_gold_erp"],
            "app_roles": ["finance"],
        }
        add_agent(lakehouse, build_spec(**(fields | spec)))
        made.append(code)
        return code

    yield make
    for code in made:
        with contextlib.suppress(NotFound):  # the test removed it itself
            remove_agent(lakehouse, code)


def _orchestration_rows(owner_conn: psycopg.Connection, user_id: str) -> int:
    row = owner_conn.execute(
        "SELECT count(*) FROM public.ipai_orchestration_run WHERE requested_by_user = %s",
        [user_id],
    ).fetchone()
    return int(row[0]) if row else 0


# --- sign-out ---------------------------------------------------------------------------------


def test_signing_out_refuses_the_cookies_token_everywhere_from_the_next_request(
    lakehouse: Lakehouse, api: TestClient, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    email, password, _ = make_user(["data_engineer"])
    signed_in = api.post("/auth/login", data={"email": email, "password": password})
    token = signed_in.cookies[SESSION_COOKIE]
    assert lakehouse.authenticate(token).email == email
    assert api.post(NO_SUCH_CONNECTOR, headers=bearer(token)).status_code == 404

    api.cookies.set(SESSION_COOKIE, token)
    assert api.get("/auth/logout").status_code == 303
    api.cookies.clear()

    message = str(refused(lakehouse, token))
    assert "signed out" in message and "sign in again" in message
    after = api.post(NO_SUCH_CONNECTOR, headers=bearer(token))
    assert after.status_code == 401 and "signed out" in after.json()["error_description"]
    claims = lakehouse.tokens.verify(
        token
    )  # still well signed and unexpired: the deny list says no
    listed = owner_conn.execute(
        "SELECT reason, extract(epoch FROM expires_at)::bigint FROM public.ipai_revoked_token"
        " WHERE jti = %s",
        [claims["jti"]],
    ).fetchone()
    assert listed == ("signed_out", claims["exp"])
    assert _orchestration_rows(owner_conn, claims["sub"]) == 0
    fresh = users.sign_in(lakehouse.db, lakehouse.tokens, email, password)  # signing in again works
    assert lakehouse.authenticate(fresh).email == email


def test_an_api_client_signs_its_bearer_token_out(
    lakehouse: Lakehouse, api: TestClient, make_user: UserMaker
) -> None:
    email, password, _ = make_user(["data_engineer"])
    token = api.post("/auth/token", json={"email": email, "password": password}).json()[
        "access_token"
    ]
    assert api.post("/auth/logout", headers=bearer(token)).status_code == 204
    refused(lakehouse, token)
    assert api.post(NO_SUCH_CONNECTOR, headers=bearer(token)).status_code == 401


def test_a_token_edited_to_dodge_the_deny_list_fails_its_signature(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    _, _, token = make_user(["finance"])
    users_token = lakehouse.authenticate(token)
    sign_out(lakehouse.db, users_token)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["jti"] = str(uuid.uuid4())  # a new id the deny list has never seen
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken) as caught:
        lakehouse.authenticate(f"{header}.{forged_payload}.{signature}")
    assert caught.value.reason == "bad_signature"


def test_the_deny_list_is_pruned_once_its_tokens_have_expired(
    lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    stale = f"stale-{uuid.uuid4()}"
    owner_conn.execute(
        "INSERT INTO public.ipai_revoked_token (jti, reason, expires_at)"
        " VALUES (%s, 'signed_out', now() - interval '1 minute')",
        [stale],
    )
    _, _, token = make_user([])
    sign_out(lakehouse.db, lakehouse.authenticate(token))
    kept = {
        r[0]
        for r in owner_conn.execute(
            "SELECT jti FROM public.ipai_revoked_token WHERE jti = ANY(%s)",
            [[stale, lakehouse.tokens.verify(token)["jti"]]],
        )
    }
    assert kept == {lakehouse.tokens.verify(token)["jti"]}


# --- account changes --------------------------------------------------------------------------


def test_a_revoked_role_is_gone_at_the_next_request(
    lakehouse: Lakehouse, api: TestClient, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    email, _, token = make_user(["data_engineer", "analyst"])
    user_id = lakehouse.authenticate(token).user_id or ""
    assert api.post(NO_SUCH_CONNECTOR, headers=bearer(token)).status_code == 404  # allowed
    users.grant_roles(lakehouse.db, email, ["data_engineer"], revoke=True)
    assert lakehouse.authenticate(token).roles == ("analyst",)  # the same token, today's roles
    denied = api.post(NO_SUCH_CONNECTOR, headers=bearer(token))
    assert denied.status_code == 403 and "data_engineer" in denied.json()["error_description"]
    assert _orchestration_rows(owner_conn, user_id) == 0


def test_a_deleted_users_token_is_refused_everywhere_and_writes_nothing(
    lakehouse: Lakehouse,
    api: TestClient,
    make_user: UserMaker,
    settings: Settings,
    owner_conn: psycopg.Connection,
    tmp_path: Path,
) -> None:
    email, _, token = make_user(["finance", "data_engineer"])
    user_id = lakehouse.authenticate(token).user_id or ""
    users.delete_user(lakehouse.db, email)

    assert "no longer exists" in str(refused(lakehouse, token))
    assert api.post(NO_SUCH_CONNECTOR, headers=bearer(token)).status_code == 401
    genie = _cli(settings, tmp_path, "genie", "ask", "--sql", "SELECT 1 AS one", "--token", token)
    assert genie.returncode == 1 and genie.stderr.startswith("error: ")
    assert "no longer exists" in genie.stderr and "Traceback" not in genie.stderr
    app = _workspace(settings, token)
    assert [i.value for i in app.info] == [identity.SESSION_ENDED]
    assert _orchestration_rows(owner_conn, user_id) == 0
    assert owner_conn.execute(
        "SELECT count(*) FROM auth.users WHERE id = %s", [user_id]
    ).fetchone() == (0,)
    actions = [
        r[0]
        for r in owner_conn.execute(
            "SELECT action FROM public.ipai_audit_log WHERE entity_id = %s ORDER BY created_at",
            [user_id],
        )
    ]
    assert actions[-1] == "user_deleted"  # and nothing after it


def test_signing_a_user_out_everywhere_and_a_new_password_end_every_session(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    email, password, first = make_user(["finance"])
    second = users.sign_in(lakehouse.db, lakehouse.tokens, email, password)
    users.end_sessions(lakehouse.db, email)
    for token in (first, second):
        assert "every session" in str(refused(lakehouse, token))
    third = users.sign_in(lakehouse.db, lakehouse.tokens, email, password)
    assert lakehouse.authenticate(third).email == email
    users.set_password(lakehouse.db, email, "a brand new password")
    refused(lakehouse, third)
    fourth = users.sign_in(lakehouse.db, lakehouse.tokens, email, "a brand new password")
    assert lakehouse.authenticate(fourth).email == email


def test_the_cli_signs_a_user_out_everywhere_and_deletes_them(
    lakehouse: Lakehouse, make_user: UserMaker, settings: Settings, tmp_path: Path
) -> None:
    email, password, token = make_user(["finance"])
    signed_out = _cli(settings, tmp_path, "users", "sign-out", email)
    assert signed_out.returncode == 0, signed_out.stderr
    refused(lakehouse, token)
    again = users.sign_in(lakehouse.db, lakehouse.tokens, email, password)
    unconfirmed = _cli(settings, tmp_path, "users", "delete", email)  # no terminal to say yes
    assert unconfirmed.returncode != 0
    assert lakehouse.authenticate(again).email == email  # nothing was deleted
    deleted = _cli(settings, tmp_path, "users", "delete", email, "--yes")
    assert deleted.returncode == 0 and deleted.stdout.strip() == f"deleted {email}"
    refused(lakehouse, again)
    missing = _cli(settings, tmp_path, "users", "delete", email, "--yes")
    assert missing.returncode == 1 and missing.stderr.startswith(f"error: no user `{email}`")


def test_a_token_of_a_banned_account_is_refused(
    lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    email, _, token = make_user(["finance"])
    owner_conn.execute(
        "UPDATE auth.users SET banned_until = now() + interval '1 day' WHERE email = %s", [email]
    )
    assert "disabled" in str(refused(lakehouse, token))


# --- agents -----------------------------------------------------------------------------------


def test_a_removed_agents_token_is_refused_even_after_the_code_name_is_reused(
    lakehouse: Lakehouse, agents: Callable[..., str]
) -> None:
    code = agents()
    token = issue_agent_token(lakehouse, code)
    assert lakehouse.authenticate(token).agent == code
    remove_agent(lakehouse, code)
    assert f"agent `{code}`" in str(refused(lakehouse, token))
    agents(code_name=code)  # registered again: a new agent with the old name
    assert "registered again" in str(refused(lakehouse, token))
    assert lakehouse.authenticate(issue_agent_token(lakehouse, code)).agent == code


def test_a_disabled_agents_token_is_refused_until_it_is_enabled(
    lakehouse: Lakehouse, agents: Callable[..., str]
) -> None:
    code = agents()
    token = issue_agent_token(lakehouse, code)
    update_agent(lakehouse, code, is_active=False)
    assert "inactive" in str(refused(lakehouse, token))
    update_agent(lakehouse, code, is_active=True)
    assert lakehouse.authenticate(token).agent == code


def test_an_agent_acting_for_a_person_loses_what_the_person_loses(
    lakehouse: Lakehouse, agents: Callable[..., str], make_user: UserMaker
) -> None:
    email, _, _ = make_user(["finance", "devops"])
    code = agents(app_roles=["finance", "devops"])
    token = issue_agent_token(lakehouse, code, on_behalf_of=email)
    assert lakehouse.authenticate(token).roles == ("finance", "devops")
    users.grant_roles(lakehouse.db, email, ["devops"], revoke=True)
    assert lakehouse.authenticate(token).roles == ("finance",)
    users.delete_user(lakehouse.db, email)
    assert "no longer exists" in str(refused(lakehouse, token))


@pytest.mark.slow
def test_mcp_over_stdio_refuses_the_next_call_once_the_agent_is_removed(
    lakehouse: Lakehouse, agents: Callable[..., str], tmp_path: Path
) -> None:
    code = agents()
    token = issue_agent_token(lakehouse, code)

    async def session() -> tuple[bool, dict[str, Any]]:
        async with _stdio(lakehouse, token, tmp_path) as client:
            before = await client.call_tool("list_datasets", {})
            await anyio.to_thread.run_sync(remove_agent, lakehouse, code)
            after = await client.call_tool("list_datasets", {})
        assert not before.is_error
        return after.is_error, _payload(after)

    is_error, payload = anyio.run(session)
    assert is_error and payload["status"] == "refused"
    assert payload["error_type"] == "InvalidToken" and f"agent `{code}`" in payload["error"]


@pytest.mark.slow
def test_served_workspace_refuses_revoked_tokens_on_rest_and_mcp(
    lakehouse: Lakehouse,
    agents: Callable[..., str],
    make_user: UserMaker,
    settings: Settings,
    owner_conn: psycopg.Connection,
    tmp_path: Path,
) -> None:
    email, password, _ = make_user(["data_engineer"])
    code = agents()
    agent_token = issue_agent_token(lakehouse, code)
    with (
        served_workspace(settings, tmp_path) as base,
        httpx.Client(base_url=base, timeout=30, follow_redirects=False) as http,
    ):
        signed_in = http.post("/auth/login", data={"email": email, "password": password})
        cookie = signed_in.cookies[SESSION_COOKIE]
        assert http.post(NO_SUCH_CONNECTOR, headers=bearer(cookie)).status_code == 404
        assert http.get("/auth/logout", cookies={SESSION_COOKIE: cookie}).status_code == 303
        assert http.post(NO_SUCH_CONNECTOR, headers=bearer(cookie)).status_code == 401

        async def mcp() -> tuple[bool, int]:
            async with _http(base, agent_token) as client:
                listed = await client.call_tool("list_datasets", {})
                await anyio.to_thread.run_sync(remove_agent, lakehouse, code)
                async with httpx2.AsyncClient(timeout=30) as raw:
                    again = await raw.post(f"{base}/mcp", json={}, headers=bearer(agent_token))
            return listed.is_error, again.status_code

        listed_error, status = anyio.run(mcp)
        assert not listed_error and status == 401
    user_id = lakehouse.tokens.verify(cookie)["sub"]
    assert _orchestration_rows(owner_conn, user_id) == 0


# --- helpers ----------------------------------------------------------------------------------


def _env(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    return env | {
        "IPAI_DATABASE_URL": settings.database_url.get_secret_value(),
        "IPAI_DATA_DIR": str(settings.data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
    }


def _cli(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IPAI), *args],
        env=_env(settings),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _workspace(settings: Settings, token: str) -> AppTest:
    identity.use_settings(settings)
    try:
        app = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=30)
        app.session_state[identity.TOKEN_STATE_KEY] = token
        app.run()
    finally:
        identity.use_settings(None)
    assert not app.exception, [e.value for e in app.exception]
    return app


def _stdio(lakehouse: Lakehouse, token: str, home: Path) -> Client:
    env = _env(lakehouse.settings) | {"IPAI_AGENT_TOKEN": token}
    return Client(
        StdioServerParameters(command=str(IPAI), args=["mcp", "serve"], env=env, cwd=home)
    )


@asynccontextmanager
async def _http(base: str, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=bearer(token), timeout=60) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
    ):
        yield client


def _payload(result: types.CallToolResult) -> dict[str, Any]:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    payload: dict[str, Any] = json.loads(block.text)
    return payload
