"""Orchestrators (n8n) trigger connector runs and transformation refreshes over HTTP with a
bearer token — an agent allowed to `schedule`, or a data engineer — and poll them; agents do the
same through the MCP tools. The database decides who may."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from conftest import UserMaker
from support.served_workspace import served_workspace

from ipai_core.agents import Governance, add_agent, build_spec, issue_agent_token, remove_agent
from ipai_core.connectors import store
from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied
from ipai_core.lakehouse import Lakehouse
from ipai_core.mcp.tools import Toolbox
from ipai_core.orchestration import Orchestrator, get_run, request_run
from ipai_core.settings import Settings

AgentTokens = Callable[..., str]


@pytest.fixture
def connector(lakehouse: Lakehouse, tmp_path: Path) -> str:
    """A file connector over a small CSV: something real to run."""
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "a.csv").write_text("id,amount\n1,10.5\n2,3\n")
    name = f"orch_{secrets.token_hex(3)}"
    config = {
        "target_schema": "ipai_bronze_retail",
        "url": str(folder / "*.csv"),
        "stream": name,
        "primary_key": ["id"],
    }
    with lakehouse.session(Principal.service("test: orchestration connector")) as s:
        store.add_connector(s, name=name, connector_type="file", config=config)
    return name


@pytest.fixture
def agent_token(lakehouse: Lakehouse) -> Iterator[AgentTokens]:
    made: list[str] = []

    def make(*, schedule: bool) -> str:
        code = f"orch{secrets.token_hex(3)}"
        tools = ["run_connector", "get_run"] if schedule else ["list_datasets"]
        operations = ["read", "schedule"] if schedule else ["read"]
        add_agent(
            lakehouse,
            build_spec(
                code_name=code,
                display_name="n8n",
                allowed_tools=tools,
                allowed_operations=operations,
            ),
        )
        made.append(code)
        return issue_agent_token(lakehouse, code)

    yield make
    for code in made:
        remove_agent(lakehouse, code)


@pytest.fixture
def workspace(settings: Settings, tmp_path: Path) -> Iterator[httpx.Client]:
    home = tmp_path / "home"
    home.mkdir()
    with served_workspace(settings, home) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _wait(http: httpx.Client, url: str, token: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = http.get(url, headers=_bearer(token)).json()
        if body["status"] in ("success", "failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"{url} did not finish within {timeout_s} s")


@pytest.mark.slow
def test_refusals_unauthenticated_wrong_scope_unknown(
    workspace: httpx.Client, make_user: UserMaker, agent_token: AgentTokens, connector: str
) -> None:
    url = f"/api/connectors/{connector}/runs"
    missing = workspace.post(url)
    assert missing.status_code == 401 and "Bearer" in missing.headers["www-authenticate"]
    assert workspace.post(url, headers=_bearer("forged.token.value")).status_code == 401
    _, _, analyst = make_user(["analyst"])
    refused = workspace.post(url, headers=_bearer(analyst))
    assert refused.status_code == 403 and "schedule" in refused.json()["error_description"]
    assert workspace.post(url, headers=_bearer(agent_token(schedule=False))).status_code == 403
    _, _, engineer = make_user(["data_engineer"])
    unknown = workspace.post("/api/connectors/no_such_connector/runs", headers=_bearer(engineer))
    assert unknown.status_code == 404
    bad_body = workspace.post(
        "/api/transformations/runs", content=b"[1]", headers=_bearer(engineer)
    )
    assert bad_body.status_code == 400


@pytest.mark.slow
def test_a_data_engineer_runs_a_connector_and_polls_it(
    workspace: httpx.Client,
    make_user: UserMaker,
    connector: str,
    owner_conn: psycopg.Connection,
) -> None:
    _, _, engineer = make_user(["data_engineer"])
    accepted = workspace.post(f"/api/connectors/{connector}/runs", headers=_bearer(engineer))
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] in ("queued", "running") and body["target"] == connector
    done = _wait(workspace, body["status_url"], engineer)
    assert done["status"] == "success", done["error"]
    assert done["result"]["streams"][connector]["rows_written"] == 2
    run = owner_conn.execute(
        "SELECT status, triggered_by FROM public.ipai_connector_run WHERE id = %s",
        [done["connector_run_id"]],
    ).fetchone()
    assert run == ("success", f"orchestration:{body['run_id']}")
    rows = owner_conn.execute(f"SELECT count(*) FROM ipai_bronze_retail.{connector}").fetchone()
    assert rows == (2,)
    _, _, stranger = make_user(["analyst"])
    assert workspace.get(body["status_url"], headers=_bearer(stranger)).status_code == 404


@pytest.mark.slow
def test_an_agent_allowed_to_schedule_triggers_runs(
    workspace: httpx.Client,
    agent_token: AgentTokens,
    connector: str,
    owner_conn: psycopg.Connection,
) -> None:
    token = agent_token(schedule=True)
    accepted = workspace.post(f"/api/connectors/{connector}/runs", headers=_bearer(token))
    assert accepted.status_code == 202, accepted.text
    done = _wait(workspace, accepted.json()["status_url"], token)
    assert done["status"] == "success", done["error"]
    refresh = workspace.post(
        "/api/transformations/runs", json={"select": ["ipai_gold_devops.*"]}, headers=_bearer(token)
    )
    assert refresh.status_code == 202, refresh.text
    refreshed = _wait(workspace, refresh.json()["status_url"], token)
    assert refreshed["status"] == "success", refreshed["error"]
    assert {v["view"] for v in refreshed["result"]["views"]} >= {"ipai_gold_devops.mv_ci_weekly"}
    requested = owner_conn.execute(
        "SELECT count(*) FROM public.ipai_orchestration_run r JOIN public.ipai_agent a"
        " ON a.id = r.requested_by_agent WHERE r.id = ANY(%s::uuid[])",
        [[done["run_id"], refreshed["run_id"]]],
    ).fetchone()
    assert requested == (2,)


def test_mcp_run_connector_goes_through_governance_and_the_database(
    lakehouse: Lakehouse, agent_token: AgentTokens, connector: str
) -> None:
    orchestrator = Orchestrator(lambda: lakehouse)
    tools = Toolbox(orchestrator).tools()
    governance = Governance(lakehouse)
    scheduler = lakehouse.authenticate(agent_token(schedule=True))
    started = governance.call(
        scheduler, "run_connector", {"connector": connector}, tools["run_connector"].handler
    )
    assert started.ok and started.result is not None, started.error
    run_id = started.result.payload["run_id"]
    orchestrator.close()  # waits for the run
    polled = governance.call(scheduler, "get_run", {"run_id": run_id}, tools["get_run"].handler)
    assert polled.result is not None and polled.result.payload["status"] == "success"

    reader = lakehouse.authenticate(agent_token(schedule=False))
    refused = governance.call(
        reader, "run_connector", {"connector": connector}, tools["run_connector"].handler
    )
    assert refused.status == "refused"
    with pytest.raises(AccessDenied):  # and the database says no without governance asking
        request_run(lakehouse, reader, "connector", connector, via="mcp")


def test_a_run_whose_process_died_is_reported_abandoned(
    lakehouse: Lakehouse, make_user: UserMaker, connector: str, owner_conn: psycopg.Connection
) -> None:
    _, _, engineer = make_user(["data_engineer"])
    principal = lakehouse.authenticate(engineer)
    run_id = request_run(lakehouse, principal, "connector", connector, via="http")
    owner_conn.execute(
        "UPDATE public.ipai_orchestration_run SET status = 'running', runner = 'gone:1',"
        " created_at = now() - interval '5 minutes' WHERE id = %s",
        [run_id],
    )
    run = get_run(lakehouse, principal, run_id)
    assert run.status == "failed" and "abandoned" in (run.error_message or "")
