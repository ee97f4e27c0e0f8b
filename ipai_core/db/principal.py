"""Who a query runs as: a verified user, an agent, the anonymous role, or the service role."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

DbRole = Literal["anon", "authenticated", "service_role"]
DB_ROLES: tuple[DbRole, ...] = ("anon", "authenticated", "service_role")
AGENT_ROLE_PREFIX = "ipai_agent_"
AGENT_CODE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,51}$")  # the prefix + 52 fits a role name


def agent_db_role(code_name: str) -> str:
    """The Postgres role of an agent (`ipai_agent_<code_name>`, created from the registry)."""
    if not AGENT_CODE_NAME.match(code_name):
        raise ValueError(f"agent code name `{code_name[:60]}` must match {AGENT_CODE_NAME.pattern}")
    return AGENT_ROLE_PREFIX + code_name


@dataclass(frozen=True)
class Principal:
    """The identity a scoped session runs as.

    `db_role` becomes `SET LOCAL ROLE`: one of `DB_ROLES`, or for an agent (claims carry
    `ipai_agent`) that agent's own role `ipai_agent_<code_name>`. `claims` become
    `request.jwt.claims`, which `auth.uid()` and `auth.jwt()` read inside policies.
    `statement_timeout_ms`, when set, becomes the session's `SET LOCAL statement_timeout` (an
    agent's latency budget). Build one from verified claims only (`TokenService.verify`), or with
    `anonymous()` / `service(reason)`.
    """

    db_role: str
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    reason: str | None = None
    statement_timeout_ms: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))
        agent = self.agent
        allowed = (agent_db_role(agent),) if agent else DB_ROLES
        if self.db_role not in allowed:
            raise ValueError(f"db_role must be one of {allowed}, got `{self.db_role}`")
        if self.db_role == "service_role" and not self.reason:
            raise ValueError(
                "a service-role principal needs a reason; it is written to the audit log"
            )
        if self.statement_timeout_ms is not None and self.statement_timeout_ms <= 0:
            raise ValueError(
                f"statement_timeout_ms must be positive: `{self.statement_timeout_ms}`"
            )

    @classmethod
    def from_verified_claims(cls, claims: Mapping[str, Any]) -> Principal:
        agent = claims.get("ipai_agent")
        if agent:
            return cls(db_role=agent_db_role(str(agent)), claims=claims)
        role = claims.get("role", "authenticated")
        if role == "service_role":
            return cls(db_role="service_role", claims=claims, reason="service_role token")
        return cls(db_role=role, claims=claims)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(db_role="anon", claims={"role": "anon"})

    @classmethod
    def service(cls, reason: str) -> Principal:
        """The service role (bypasses RLS); each session opened with it is audited with `reason`."""
        return cls(db_role="service_role", claims={"role": "service_role"}, reason=reason)

    @property
    def user_id(self) -> str | None:
        sub = self.claims.get("sub")
        return str(sub) if sub else None

    @property
    def email(self) -> str | None:
        email = self.claims.get("email")
        return str(email) if email else None

    @property
    def roles(self) -> tuple[str, ...]:
        app_metadata = self.claims.get("app_metadata") or {}
        return tuple(str(r) for r in app_metadata.get("roles", ()))

    @property
    def agent(self) -> str | None:
        agent = self.claims.get("ipai_agent")
        return str(agent) if agent else None

    @property
    def on_behalf_of(self) -> str | None:
        """For an agent acting for a person: that person's user id."""
        user = self.claims.get("ipai_on_behalf_of")
        return str(user) if user else None

    def with_limits(
        self, *, statement_timeout_ms: int | None = None, roles: tuple[str, ...] | None = None
    ) -> Principal:
        """A copy with a statement timeout and (narrowing only) fewer application roles."""
        claims = dict(self.claims)
        if roles is not None:
            kept = [r for r in self.roles if r in roles]
            claims["app_metadata"] = {**(claims.get("app_metadata") or {}), "roles": kept}
        return replace(self, claims=claims, statement_timeout_ms=statement_timeout_ms)

    @property
    def label(self) -> str:
        """A short human-readable name for logs and error messages."""
        if self.agent:
            return f"agent:{self.agent}"
        if self.db_role == "service_role":
            return f"service_role ({self.reason})"
        return self.email or self.user_id or self.db_role
