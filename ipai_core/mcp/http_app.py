"""The MCP server over streamable HTTP at `/mcp`, inside the workspace's ASGI process.

Each request must carry `Authorization: Bearer <agent token>` (`ipai agents token CODE`): the
SDK's bearer middleware runs our `AgentTokenVerifier` (`Lakehouse.authenticate`, so revocation
counts at once), answers 401 without a valid agent token,
and binds each MCP session to the credential that opened it (another token cannot use it). Tool
calls then run as the agent of that request's token.

The session manager needs a task group for the server's lifetime: enter `McpHttp.running()` in
the ASGI app's lifespan.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server import ServerRequestContext
from mcp.server.auth.middleware.bearer_auth import (
    AuthenticatedUser,
    BearerAuthBackend,
    RequireAuthMiddleware,
)
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.routing import Route

from ipai_core.db.principal import Principal
from ipai_core.errors import AuthError, IpaiError
from ipai_core.lakehouse import Lakehouse
from ipai_core.mcp.server import build_server
from ipai_core.orchestration.runner import Orchestrator

MCP_PATH = "/mcp"
SESSION_HEADER = "mcp-session-id"
_log = logging.getLogger(__name__)

LakehouseProvider = Callable[[], Lakehouse]


class AgentTokenVerifier:
    """The SDK's `TokenVerifier` for our JWTs: only valid agent tokens pass."""

    def __init__(self, lakehouse: LakehouseProvider) -> None:
        self._lakehouse = lakehouse

    async def verify_token(self, token: str) -> AccessToken | None:
        """Every request: `Lakehouse.authenticate`, so a signed-out token, a removed agent or a
        deleted person is refused here (401); the claims kept are the ones it rebuilt."""
        try:
            principal = await anyio.to_thread.run_sync(self._lakehouse().authenticate, token)
        except AuthError:
            return None
        except IpaiError as exc:  # e.g. the database is down: refused, and said so in the log
            _log.warning("MCP token could not be checked: %s", exc)
            return None
        claims = dict(principal.claims)
        if not principal.agent:
            return None
        return AccessToken(
            token=token,
            client_id=principal.agent,
            scopes=[],
            expires_at=int(claims["exp"]),
            subject=str(claims["sub"]),
            claims=claims,
        )


class McpHttp:
    """The `/mcp` route and the session manager behind it."""

    def __init__(
        self, lakehouse: LakehouseProvider, *, orchestrator: Orchestrator | None = None
    ) -> None:
        self._orchestrator = orchestrator or Orchestrator(lakehouse)
        server = build_server(
            lakehouse,
            identify=_request_principal,
            session_of=_session_id,
            orchestrator=self._orchestrator,
        )
        self._manager = StreamableHTTPSessionManager(app=server)
        self._asgi = AuthenticationMiddleware(
            RequireAuthMiddleware(StreamableHTTPASGIApp(self._manager), required_scopes=[]),
            backend=BearerAuthBackend(AgentTokenVerifier(lakehouse)),
        )

    def route(self) -> Route:
        return Route(MCP_PATH, endpoint=self._asgi, methods=["GET", "POST", "DELETE"])

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The session manager's lifetime; enter it once, in the app's lifespan."""
        async with self._manager.run():
            try:
                yield
            finally:
                self._orchestrator.close(wait=False)


def _request_principal(ctx: ServerRequestContext[Any]) -> Principal:
    request = ctx.request
    user = request.scope.get("user") if isinstance(request, Request) else None
    if not isinstance(user, AuthenticatedUser) or not user.access_token.claims:
        raise AuthError("this MCP request carries no verified agent token")
    return Principal.from_verified_claims(user.access_token.claims)


def _session_id(ctx: ServerRequestContext[Any]) -> str | None:
    request = ctx.request
    return request.headers.get(SESSION_HEADER) if isinstance(request, Request) else None
