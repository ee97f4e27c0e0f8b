"""Identity from a trusted reverse proxy, as Databricks Apps passes it to an app behind its own.

A proxy that signs users in itself forwards who they are in request headers:

    X-Forwarded-Access-Token   a JWT; verified like any other token (signature, expiry, audience)
    X-Forwarded-Email          the user's e-mail; used alone only with
                               IPAI_TRUSTED_PROXY_EMAIL_SIGN_IN=true, and only for an existing
                               local account (its roles come from that account, never a header)

Anyone can send those headers, so they count only on connections whose TCP peer is one of
`IPAI_TRUSTED_PROXY_IPS`. `TrustedProxyMiddleware` decides that at the edge — outside uvicorn's
X-Forwarded-For handling, which would otherwise replace the proxy's address with the user's — and
vouches for such a connection with a header whose value is a random secret of this process. The
workspace reads forwarded identity only when that mark is present (`vouched`), so the headers
mean nothing on a server started without the middleware, or when no proxy is configured.

The proxy must set (overwrite) these headers on every request it forwards.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

FORWARDED_TOKEN = "x-forwarded-access-token"  # noqa: S105 - a header name, not a secret
FORWARDED_EMAIL = "x-forwarded-email"
VOUCHED = "x-ipai-trusted-proxy"

_MARK = secrets.token_urlsafe(32)  # never leaves this process
_VOUCHED_BYTES = VOUCHED.encode("latin-1")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxyMiddleware:
    """Pure ASGI middleware: marks HTTP and WebSocket connections from a trusted proxy, and
    removes any such mark a client sent itself."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[str]) -> None:
        self.app = app
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != _VOUCHED_BYTES]
            if self.trusts(scope.get("client")):
                headers.append((_VOUCHED_BYTES, _MARK.encode("latin-1")))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)

    def trusts(self, client: Sequence[object] | None) -> bool:
        """True when the connection's TCP peer lies in one of the trusted networks."""
        if not client or not self.networks:
            return False
        try:
            peer = ipaddress.ip_address(str(client[0]))
        except ValueError:  # e.g. a unix socket or "testclient"
            return False
        return any(peer in network for network in self.networks)


@dataclass(frozen=True)
class ForwardedIdentity:
    """Who a trusted proxy says the user is: a token, or an e-mail alone."""

    token: str | None
    email: str | None


def vouched(headers: Mapping[str, str]) -> bool:
    """True when `TrustedProxyMiddleware` of this process marked the connection as trusted."""
    return hmac.compare_digest(_lower(headers).get(VOUCHED, ""), _MARK)


def forwarded_identity(headers: Mapping[str, str]) -> ForwardedIdentity | None:
    """The identity in a vouched connection's headers, or None (not vouched, or none sent)."""
    if not vouched(headers):
        return None
    lowered = _lower(headers)
    token = lowered.get(FORWARDED_TOKEN, "").strip() or None
    email = lowered.get(FORWARDED_EMAIL, "").strip().lower() or None
    if token is None and email is None:
        return None
    return ForwardedIdentity(token=token, email=email)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}
