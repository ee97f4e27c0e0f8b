"""Revocation that takes effect: every verified token is checked against the database before it
is used, so sign-out, a revoked role or company, a deleted or banned user and a removed agent
count from the next request on — not at the token's expiry.

`current_claims(db, claims)` is the one check; `Lakehouse.authenticate` calls it after the
signature check, and every entry point (workspace cookie, REST routes, MCP over stdio and HTTP,
`ipai genie --token`) goes through `Lakehouse.authenticate`. It runs `public.ipai_token_state()`
in a session *as the token itself*, so the database answers about the caller only and no
service-role session (with its audit entry) is opened per request. `sign_out` puts the caller's
own token on the deny list (`public.ipai_token_revoke()`).

Tokens of the anonymous and service roles name no account and are returned as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg

from ipai_core.auth.claims import REVOKED, refreshed
from ipai_core.db.pool import Database
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import session
from ipai_core.errors import AccessDenied, InvalidToken

_ACCOUNT_ROLE = "authenticated"


def current_claims(db: Database, claims: Mapping[str, Any]) -> dict[str, Any]:
    """The claims a request with this (signature-verified) token runs with now; raises
    `InvalidToken` (reason `revoked`) when the token may no longer be used."""
    if claims.get("role") != _ACCOUNT_ROLE:
        return dict(claims)
    return refreshed(claims, _token_state(db, claims))


def sign_out(db: Database, principal: Principal) -> None:
    """Refuse the token `principal` was built from from now on (until it would have expired)."""
    with session(db, principal) as s:
        s.scalar("SELECT public.ipai_token_revoke()")


def _token_state(db: Database, claims: Mapping[str, Any]) -> Mapping[str, Any]:
    principal = Principal.from_verified_claims(claims)
    try:
        with session(db, principal) as s:
            state = s.scalar("SELECT public.ipai_token_state()")
    except (
        psycopg.errors.InvalidParameterValue,  # SET ROLE to a dropped agent role
        psycopg.errors.InsufficientPrivilege,  # … or to one this login may no longer use
        AccessDenied,
    ) as exc:
        if principal.agent is None:
            raise
        raise InvalidToken(
            f"agent `{principal.agent}` was removed after this token was issued; issue a new "
            f"token with `ipai agents token {principal.agent}`",
            reason=REVOKED,
        ) from exc
    return state if isinstance(state, Mapping) else json.loads(str(state))
