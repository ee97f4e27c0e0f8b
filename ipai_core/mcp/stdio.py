"""`ipai mcp serve`: the MCP server over stdio, as one agent — the one its token names
(`IPAI_AGENT_TOKEN` or `--token`). The token is verified and the agent looked up before the
first message is read, so a bad token or an unregistered agent stops the process with a clear
error instead of failing every call; after that it is verified again at every request
(`Lakehouse.authenticate`), so revocation counts at once. Nothing but protocol messages is
written to stdout."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server import ServerRequestContext
from mcp.server.stdio import stdio_server

from ipai_core.agents.governance import Governance, new_session_id
from ipai_core.db.principal import Principal
from ipai_core.errors import AuthError
from ipai_core.lakehouse import Lakehouse
from ipai_core.mcp.server import build_server
from ipai_core.orchestration.runner import Orchestrator


def agent_principal(lakehouse: Lakehouse, token: str) -> Principal:
    """The verified agent of `token`; raises `AuthError`/`AgentRefused` for anything else."""
    principal = lakehouse.authenticate(token)
    if principal.agent is None:
        raise AuthError(
            "this token is not an agent's: issue one with `ipai agents token CODE` and pass it "
            "as IPAI_AGENT_TOKEN or --token"
        )
    Governance(lakehouse).policy(principal)
    return principal


def serve_stdio(lakehouse: Lakehouse, token: str) -> None:
    """Serve MCP on stdin/stdout until the client closes the stream. The token is verified again
    for every request, so a removed agent or a signed-out token stops working at once."""
    agent_principal(lakehouse, token)
    session_id = new_session_id()
    orchestrator = Orchestrator(lambda: lakehouse)

    def identify(_ctx: ServerRequestContext[Any]) -> Principal:
        principal = lakehouse.authenticate(token)
        if principal.agent is None:
            raise AuthError("this token is not an agent's: issue one with `ipai agents token`")
        return principal

    server = build_server(
        lambda: lakehouse,
        identify=identify,
        session_of=lambda _ctx: session_id,
        orchestrator=orchestrator,
    )

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(run)
    finally:
        orchestrator.close()
