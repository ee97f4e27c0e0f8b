"""The MCP server (official `mcp` SDK 2.x, its low-level `Server`): `tools/list` shows the calling
agent the tools its registry row allows, and `tools/call` runs one through `Governance.call`.

Who calls is decided by the transport, through `identify(ctx)` (run in a worker thread, for it may
ask the database): over stdio the agent of the token the process was started with, verified again
for each request; over HTTP the agent of the bearer token of that request (`ipai_core.mcp.http`).
A token that no longer verifies gets a refusal saying why, and nothing runs. Blocking work (the
database, an LLM) runs in worker threads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from ipai_core.agents.governance import CallOutcome, Governance
from ipai_core.agents.tools import TOOL_RULES
from ipai_core.db.principal import Principal
from ipai_core.errors import AuthError, ConfigError
from ipai_core.lakehouse import Lakehouse
from ipai_core.mcp.tools import McpTool, Toolbox
from ipai_core.orchestration.runner import Orchestrator

SERVER_NAME = "ipai-databricks"
INSTRUCTIONS = (
    "Tools over the IPAI lakehouse. Start with list_datasets, then describe_dataset; prefer "
    "query_semantic_model (declared measures and dimensions) over run_sql. Results are what this "
    "agent — and the person it acts for — may read; every call is logged."
)

LakehouseProvider = Callable[[], Lakehouse]
Identify = Callable[[ServerRequestContext[Any]], Principal]
SessionOf = Callable[[ServerRequestContext[Any]], str | None]


def mcp_tools(orchestrator: Orchestrator) -> dict[str, McpTool]:
    """The implemented tools; refuses to build a server whose tools governance does not know."""
    tools = Toolbox(orchestrator).tools()
    if set(tools) != set(TOOL_RULES):
        raise ConfigError(
            "the MCP tools and governance's tool list differ: implemented "
            f"{sorted(tools)}, governed {sorted(TOOL_RULES)}; update ipai_core/agents/tools.py"
        )
    return tools


def build_server(
    lakehouse: LakehouseProvider,
    *,
    identify: Identify,
    session_of: SessionOf,
    orchestrator: Orchestrator | None = None,
) -> Server[Any]:
    """A low-level MCP server whose tool calls all go through governance."""
    tools = mcp_tools(orchestrator or Orchestrator(lakehouse))

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            principal = await anyio.to_thread.run_sync(identify, ctx)
        except AuthError as exc:
            raise MCPError(code=types.INVALID_REQUEST, message=str(exc)) from exc
        policy = await anyio.to_thread.run_sync(Governance(lakehouse()).policy, principal)
        allowed = [tools[name] for name in policy.allowed_tools if name in tools]
        return types.ListToolsResult(tools=[_describe(tool) for tool in allowed])

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            principal = await anyio.to_thread.run_sync(identify, ctx)
        except AuthError as exc:
            return _refused(exc)
        tool = tools.get(params.name)
        outcome = await anyio.to_thread.run_sync(
            lambda: Governance(lakehouse()).call(
                principal,
                params.name,
                params.arguments or {},
                tool.handler if tool else _never_runs,
                session_id=session_of(ctx),
            )
        )
        return _result(outcome)

    return Server(
        SERVER_NAME,
        version="1",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _describe(tool: McpTool) -> types.Tool:
    rule = TOOL_RULES[tool.name]
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema(),
        annotations=types.ToolAnnotations(
            read_only_hint=rule.operation == "read",
            destructive_hint=False,
            open_world_hint=False,
        ),
    )


def _result(outcome: CallOutcome) -> types.CallToolResult:
    body: dict[str, Any] = {"status": outcome.status, "run_id": outcome.run_id}
    if outcome.result is not None:
        body.update(outcome.result.payload)
    if outcome.error is not None:
        body["error"] = str(outcome.error)
        body["error_type"] = type(outcome.error).__name__
    text = json.dumps(body, default=str)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=json.loads(text),
        is_error=not outcome.ok,
    )


def _refused(exc: AuthError) -> types.CallToolResult:
    """A call whose token no longer verifies: nothing ran, and the caller is told why."""
    body = {"status": "refused", "error": str(exc), "error_type": type(exc).__name__}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(body))],
        structured_content=body,
        is_error=True,
    )


def _never_runs(*_: Any) -> Any:
    """Stands in for a tool that does not exist: governance refuses the call before it runs."""
    raise ConfigError("unknown tool")
