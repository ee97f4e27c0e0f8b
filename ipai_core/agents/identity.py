"""An agent's identity in a token: its code name, and for a call on a person's behalf that
person's id and the application roles both may use. `Principal.from_verified_claims` turns such a
token into a session that runs as the agent's own database role, with these claims, so grants
(the agent's) and row filters (the person's roles, narrowed to the agent's) both apply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ipai_core.agents.registry import get_agent
from ipai_core.auth.users import get_user
from ipai_core.errors import ConfigError
from ipai_core.lakehouse import Lakehouse

ADMIN = "admin"  # implies every role (`ipai_has_role`)


def effective_roles(agent_roles: Sequence[str], user_roles: Sequence[str]) -> tuple[str, ...]:
    """The roles a call may use: those of the agent that the user also holds (`admin` on either
    side stands for every role, so the other side's list applies)."""
    if ADMIN in user_roles:
        return tuple(agent_roles)
    if ADMIN in agent_roles:
        return tuple(user_roles)
    return tuple(role for role in agent_roles if role in user_roles)


def issue_agent_token(
    lh: Lakehouse,
    code_name: str,
    *,
    on_behalf_of: str | None = None,
    ttl_seconds: int | None = None,
) -> str:
    """A signed token for the agent, optionally acting for the user with email `on_behalf_of`."""
    agent = get_agent(lh, code_name)
    if not agent.spec.is_active:
        raise ConfigError(
            f"agent `{code_name}` is inactive; enable it with "
            f"`ipai agents update {code_name} --active` before issuing a token"
        )
    extra: dict[str, Any] = {"ipai_agent": code_name, "ipai_agent_id": agent.id}
    subject, email, roles = agent.id, None, agent.spec.app_roles
    if on_behalf_of is not None:
        user = get_user(lh.db, on_behalf_of)
        subject, email = user.id, user.email
        roles = effective_roles(agent.spec.app_roles, user.roles)
        extra["ipai_on_behalf_of"] = user.id
    ttl = ttl_seconds if ttl_seconds is not None else lh.settings.agent_token_ttl_seconds
    return lh.tokens.issue(
        user_id=subject, email=email, roles=roles, extra_claims=extra, ttl_seconds=ttl
    )
