"""An agent's identity in a token: its code name, and for a call on a person's behalf that
person's id and the application roles both may use. `Principal.from_verified_claims` turns such a
token into a session that runs as the agent's own database role, with these claims, so grants
(the agent's) and row filters (the person's roles, narrowed to the agent's) both apply."""

from __future__ import annotations

from typing import Any

from ipai_core.agents.registry import get_agent
from ipai_core.auth.claims import effective_roles
from ipai_core.auth.users import account, issue_token
from ipai_core.errors import ConfigError
from ipai_core.lakehouse import Lakehouse

__all__ = ["effective_roles", "issue_agent_token"]


def issue_agent_token(
    lh: Lakehouse,
    code_name: str,
    *,
    on_behalf_of: str | None = None,
    ttl_seconds: int | None = None,
) -> str:
    """A signed token for the agent, optionally acting for the user with email `on_behalf_of`
    (then it carries that person's company scope and token generation, and both the agent's and
    the person's current state are checked again at every verification)."""
    agent = get_agent(lh, code_name)
    if not agent.spec.is_active:
        raise ConfigError(
            f"agent `{code_name}` is inactive; enable it with "
            f"`ipai agents update {code_name} --active` before issuing a token"
        )
    extra: dict[str, Any] = {"ipai_agent": code_name, "ipai_agent_id": agent.id}
    ttl = ttl_seconds if ttl_seconds is not None else lh.settings.agent_token_ttl_seconds
    if on_behalf_of is None:
        return lh.tokens.issue(
            user_id=agent.id,
            email=None,
            roles=agent.spec.app_roles,
            extra_claims=extra,
            ttl_seconds=ttl,
        )
    person = account(lh.db, on_behalf_of)
    return issue_token(
        lh.tokens,
        person,
        roles=effective_roles(agent.spec.app_roles, person.roles),
        extra_claims={**extra, "ipai_on_behalf_of": person.id},
        ttl_seconds=ttl,
    )
