"""The MCP server with the SDK's own client: over stdio (`ipai mcp serve` as a subprocess) and
over streamable HTTP (the workspace served by uvicorn), as two agents with different scopes on
the demo lakehouse. Each sees its own tools and data; a refused call is logged and audited."""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import psycopg
import pytest
from conftest import TEST_JWT_SECRET
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from support.genie_plans import llm_plan
from support.openai_standin import OpenAIStandIn, Reply
from support.served_workspace import served_workspace

from ipai_core.agents import (
    TOOL_RULES,
    Governance,
    add_agent,
    build_spec,
    issue_agent_token,
    remove_agent,
    update_agent,
)
from ipai_core.auth import users
from ipai_core.lakehouse import Lakehouse
from ipai_core.mcp.server import mcp_tools
from ipai_core.mcp.tools import Toolbox
from ipai_core.orchestration.runner import Orchestrator

pytestmark = pytest.mark.slow  # the demo lakehouse, subprocesses and a served workspace

IPAI = Path(sys.executable).parent / "ipai"
READ_TOOLS = ["list_datasets", "describe_dataset", "query_semantic_model", "ask_genie", "run_sql"]


@pytest.fixture(scope="module")
def tokens(demo_lakehouse: Lakehouse) -> Iterator[dict[str, str]]:
    """Two agents: DevOps (gold DevOps, every read tool) and finance (gold ERP, three tools)."""
    lh = demo_lakehouse
    suffix = secrets.token_hex(3)
    specs = {
        "devops": build_spec(
            code_name=f"devops{suffix}",
            display_name="DevOps agent",
            allowed_tools=READ_TOOLS,
            allowed_schemas=["ipai_gold_devops"],
            app_roles=["devops"],
        ),
        "finance": build_spec(
            code_name=f"finance{suffix}",
            display_name="Finance agent",
            allowed_tools=["list_datasets", "query_semantic_model", "run_sql"],
            allowed_schemas=["ipai_gold_erp"],
            app_roles=["finance"],
        ),
    }
    for spec in specs.values():
        add_agent(lh, spec)
    yield {name: issue_agent_token(lh, spec.code_name) for name, spec in specs.items()}
    for spec in specs.values():
        remove_agent(lh, spec.code_name)


def _database_url(lh: Lakehouse) -> str:
    assert lh.settings.database_url is not None
    return lh.settings.database_url.get_secret_value()


def _stdio(lh: Lakehouse, token: str, home: Path) -> Client:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATABASE_URL": _database_url(lh),
        "IPAI_DATA_DIR": str(lh.settings.data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
        "IPAI_AGENT_TOKEN": token,
    }
    return Client(
        StdioServerParameters(command=str(IPAI), args=["mcp", "serve"], env=env, cwd=home)
    )


def _payload(result: types.CallToolResult) -> dict[str, Any]:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    payload: dict[str, Any] = json.loads(block.text)
    assert result.structured_content == payload
    return payload


async def _tour(client: Client, dataset: str, foreign_view: str) -> dict[str, Any]:
    """What an agent sees: its tools, its datasets, a query on its own data, and a read of the
    other agent's schema."""
    tools = sorted(tool.name for tool in (await client.list_tools()).tools)
    datasets = _payload(await client.call_tool("list_datasets", {}))
    query = _payload(
        await client.call_tool(
            "query_semantic_model",
            {"dataset": dataset, "measures": [_first_measure(datasets, dataset)], "limit": 5},
        )
    )
    foreign = await client.call_tool("run_sql", {"sql": f"SELECT * FROM {foreign_view}"})
    return {
        "tools": tools,
        "datasets": [d["name"] for d in datasets["datasets"]],
        "models": sorted(m["dataset"] for m in datasets["semantic_models"]),
        "query": query,
        "foreign": (foreign.is_error, _payload(foreign)),
    }


def _first_measure(datasets: dict[str, Any], dataset: str) -> str:
    model = next(m for m in datasets["semantic_models"] if m["dataset"] == dataset)
    return str(model["measures"][0])


def _assert_scoped(seen: dict[str, dict[str, Any]]) -> None:
    devops, finance = seen["devops"], seen["finance"]
    assert devops["tools"] == sorted(READ_TOOLS)
    assert finance["tools"] == ["list_datasets", "query_semantic_model", "run_sql"]
    assert devops["datasets"] and all(d.startswith("ipai_gold_devops.") for d in devops["datasets"])
    assert finance["datasets"] and all(d.startswith("ipai_gold_erp.") for d in finance["datasets"])
    assert {"deployments_weekly", "dora_summary"} <= set(devops["models"])
    assert {"profit_and_loss", "aging"} <= set(finance["models"])
    assert not set(devops["models"]) & set(finance["models"])
    for agent in (devops, finance):
        assert agent["query"]["status"] == "success" and agent["query"]["row_count"] > 0
        is_error, payload = agent["foreign"]
        assert is_error and payload["status"] == "refused"


def test_every_mcp_tool_is_governed() -> None:
    tools = mcp_tools(Orchestrator(lambda: None))  # type: ignore[arg-type,return-value]
    assert set(tools) == set(TOOL_RULES)
    for tool in tools.values():
        assert tool.input_schema()["type"] == "object" and tool.description


def test_stdio_two_agents_see_different_tools_and_data(
    demo_lakehouse: Lakehouse, tokens: dict[str, str], tmp_path: Path
) -> None:
    async def tour_both() -> dict[str, dict[str, Any]]:
        seen = {}
        async with _stdio(demo_lakehouse, tokens["devops"], tmp_path) as client:
            seen["devops"] = await _tour(
                client, "deployments_weekly", "ipai_gold_erp.profit_and_loss"
            )
        async with _stdio(demo_lakehouse, tokens["finance"], tmp_path) as client:
            seen["finance"] = await _tour(
                client, "profit_and_loss", "ipai_gold_devops.dora_summary"
            )
        return seen

    _assert_scoped(anyio.run(tour_both))


def test_a_refused_mcp_call_is_logged_and_audited(
    demo_lakehouse: Lakehouse, tokens: dict[str, str], tmp_path: Path
) -> None:
    async def refused() -> list[dict[str, Any]]:
        async with _stdio(demo_lakehouse, tokens["finance"], tmp_path) as client:
            not_allowed = await client.call_tool("ask_genie", {"question": "revenue by month"})
            out_of_scope = await client.call_tool(
                "run_sql", {"sql": "SELECT * FROM ipai_gold_devops.incidents"}
            )
        assert not_allowed.is_error and out_of_scope.is_error
        return [_payload(not_allowed), _payload(out_of_scope)]

    payloads = anyio.run(refused)
    assert [p["error_type"] for p in payloads] == ["AgentRefused", "UnsafeSql"]
    with psycopg.connect(_database_url(demo_lakehouse)) as conn:
        for payload in payloads:
            run = conn.execute(
                "SELECT tool, status, session_id FROM public.ipai_agent_run WHERE id = %s",
                [payload["run_id"]],
            ).fetchone()
            assert run is not None and run[1] == "refused" and run[2]
            audit = conn.execute(
                "SELECT action FROM public.ipai_audit_log WHERE event_type = 'agent_run'"
                " AND details ->> 'run_id' = %s",
                [payload["run_id"]],
            ).fetchall()
            assert audit == [("refused",)]


def test_http_two_agents_with_bearer_tokens(
    demo_lakehouse: Lakehouse, tokens: dict[str, str], tmp_path: Path
) -> None:
    _, _, user_token = _user(demo_lakehouse)
    with served_workspace(demo_lakehouse.settings, tmp_path) as base:
        refusals = [
            httpx.post(f"{base}/mcp", json={}, headers=headers).status_code
            for headers in (
                {},
                {"Authorization": "Bearer not-a-token"},
                {"Authorization": f"Bearer {user_token}"},  # a person's token is not an agent's
            )
        ]
        assert refusals == [401, 401, 401]

        async def tour_both() -> dict[str, dict[str, Any]]:
            seen = {}
            async with _http(base, tokens["devops"]) as client:
                seen["devops"] = await _tour(
                    client, "deployments_weekly", "ipai_gold_erp.profit_and_loss"
                )
                answer = _payload(
                    await client.call_tool(
                        "ask_genie", {"question": "What is the change failure rate per repository?"}
                    )
                )
                assert answer["status"] == "answer" and answer["dataset"] == "dora_summary"
                assert answer["row_count"] > 0 and "dora_summary" in answer["sql"]
            async with _http(base, tokens["finance"]) as client:
                seen["finance"] = await _tour(
                    client, "profit_and_loss", "ipai_gold_devops.dora_summary"
                )
            return seen

        _assert_scoped(anyio.run(tour_both))


@asynccontextmanager
async def _http(base: str, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
    ):
        yield client


def _user(lh: Lakehouse) -> tuple[str, str, str]:
    email = f"mcp-{secrets.token_hex(3)}@example.test"
    password = secrets.token_urlsafe(12)
    users.add_user(lh.db, email, password, ["admin"])
    return email, password, users.sign_in(lh.db, lh.tokens, email, password)


def test_ask_genie_counts_llm_cost_against_the_budget_and_refuses_unsafe_plans(
    demo_lakehouse: Lakehouse, tokens: dict[str, str]
) -> None:
    with OpenAIStandIn() as llm:
        settings = demo_lakehouse.settings.model_copy(
            update={
                "llm_base_url": llm.base_url,
                "llm_model": llm.model,
                "llm_price_prompt_per_1k": 0.01,
                "llm_price_completion_per_1k": 0.03,
            }
        )
        lh = Lakehouse(settings, demo_lakehouse.db, demo_lakehouse.tokens)
        agent = lh.authenticate(tokens["devops"])
        code = agent.agent or ""
        governance, ask = Governance(lh), Toolbox(Orchestrator(lambda: lh)).tools()["ask_genie"]
        usage = {"prompt_tokens": 1000, "completion_tokens": 200}  # $0.016 a call
        outside = "SELECT * FROM ipai_gold_erp.profit_and_loss"  # a plan outside the agent's scope
        llm.reply(
            Reply(json=llm_plan(kind="sql", sql=outside), **usage),
            Reply(json=llm_plan(dataset="dora_summary", measures=["change_failure_rate"],
                             dimensions=["repository"], explanation="CFR by repository"), **usage),
        )  # fmt: skip
        question = {"question": "What is the change failure rate per repository?"}
        try:
            update_agent(demo_lakehouse, code, cost_budget_usd_per_day="0.032")  # two calls
            unsafe = governance.call(agent, "ask_genie", question, ask.handler)
            answered = governance.call(agent, "ask_genie", question, ask.handler)
            spent = governance.call(agent, "ask_genie", question, ask.handler)
        finally:
            update_agent(demo_lakehouse, code, cost_budget_usd_per_day=None)
    assert unsafe.status == "refused" and "ipai_gold_erp" in str(unsafe.error)
    assert answered.ok and answered.result is not None
    assert answered.result.payload["planner"] == "llm" and answered.result.payload["row_count"] > 0
    assert answered.result.cost_usd == pytest.approx(0.016)
    assert spent.status == "refused" and getattr(spent.error, "reason", None) == "cost_per_day"
    assert len(llm.chat_requests) == 2  # the refused third call never reached the model
    with psycopg.connect(_database_url(demo_lakehouse)) as conn:
        logged = conn.execute(
            "SELECT status, tokens_used, cost_usd::float8 FROM public.ipai_agent_run"
            " WHERE id = ANY(%s::uuid[]) ORDER BY started_at",
            [[unsafe.run_id, answered.run_id, spent.run_id]],
        ).fetchall()
    assert logged == [
        ("refused", 1200, pytest.approx(0.016)),
        ("success", 1200, pytest.approx(0.016)),
        ("refused", None, None),
    ]
