"""What a token's claims say about access, and how they are rebuilt from the database's answer.

Pure functions, testable without a database: `refreshed(claims, state)` turns a verified token's
claims and `public.ipai_token_state()`'s answer into the claims a request runs with (or raises
`InvalidToken` for a refusal); `effective_roles` is what an agent acting for a person may use;
`company_scope` reads `app_metadata.company_ids` (None: every company the roles allow).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ipai_core.errors import InvalidToken

ADMIN = "admin"  # implies every role (`ipai_has_role`)
REVOKED = "revoked"  # `InvalidToken.reason` of every refusal below

_REFUSALS = {
    "signed_out": "this token was signed out",
    "user_deleted": "the account of this token no longer exists",
    "user_disabled": "the account of this token is disabled (banned or deleted)",
    "sessions_revoked": "every session of this account was ended (`ipai users sign-out`, or a "
    "new password)",
}
_SIGN_IN_AGAIN = "sign in again to get a new token"


def effective_roles(agent_roles: Sequence[str], user_roles: Sequence[str]) -> tuple[str, ...]:
    """The roles a call may use: those of the agent that the user also holds (`admin` on either
    side stands for every role, so the other side's list applies)."""
    if ADMIN in user_roles:
        return tuple(agent_roles)
    if ADMIN in agent_roles:
        return tuple(user_roles)
    return tuple(role for role in agent_roles if role in user_roles)


def company_scope(claims: Mapping[str, Any]) -> tuple[int, ...] | None:
    """The companies finance data is limited to, or None when the claims set no limit."""
    app_metadata = claims.get("app_metadata") or {}
    ids = app_metadata.get("company_ids") if isinstance(app_metadata, Mapping) else None
    return None if ids is None else tuple(sorted(int(i) for i in ids))


def refreshed(claims: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """The claims a request runs with: the account's current e-mail, roles and company scope
    (narrowed to an agent's roles) in place of what the token said at issue."""
    refusal = state.get("refused")
    if refusal is not None:
        raise InvalidToken(_refusal_message(str(refusal), claims), reason=REVOKED)
    fresh = dict(claims)
    app_metadata = dict(claims.get("app_metadata") or {})
    agent_roles = state.get("agent_roles")
    if state.get("account"):
        roles: Sequence[str] = [str(r) for r in state.get("roles") or ()]
        if agent_roles is not None:
            roles = effective_roles(agent_roles, roles)
        app_metadata["roles"] = list(roles)
        app_metadata.pop("company_ids", None)
        if state.get("company_ids") is not None:
            app_metadata["company_ids"] = [int(i) for i in state["company_ids"]]
        fresh["email"] = state.get("email") or ""
    elif agent_roles is not None:  # an agent on its own: its registry row's roles, today's
        app_metadata["roles"] = list(agent_roles)
    fresh["app_metadata"] = app_metadata
    return fresh


def _refusal_message(refusal: str, claims: Mapping[str, Any]) -> str:
    agent = claims.get("ipai_agent")
    if refusal == "agent_removed":
        return (
            f"agent `{agent}` was removed (or registered again) after this token was issued; "
            f"issue a new token with `ipai agents token {agent}`"
        )
    if refusal == "agent_inactive":
        return (
            f"agent `{agent}` is inactive; an admin enables it with "
            f"`ipai agents update {agent} --active`, then issue a new token"
        )
    what = _REFUSALS.get(refusal, f"this token was refused ({refusal[:40]})")
    if agent:
        return f"{what}; issue a new token with `ipai agents token {agent} --on-behalf-of EMAIL`"
    return f"{what}; {_SIGN_IN_AGAIN}"
