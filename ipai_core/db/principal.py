"""Who a query runs as: a verified user, an agent, the anonymous role, or the service role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

DbRole = Literal["anon", "authenticated", "service_role"]
DB_ROLES: tuple[DbRole, ...] = ("anon", "authenticated", "service_role")


@dataclass(frozen=True)
class Principal:
    """The identity a scoped session runs as.

    `db_role` becomes `SET LOCAL ROLE`; `claims` become `request.jwt.claims`, which `auth.uid()`
    and `auth.jwt()` read inside policies. Build one from verified claims only
    (`TokenService.verify`), or with `anonymous()` / `service(reason)`.
    """

    db_role: DbRole
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.db_role not in DB_ROLES:
            raise ValueError(f"db_role must be one of {DB_ROLES}, got `{self.db_role}`")
        if self.db_role == "service_role" and not self.reason:
            raise ValueError(
                "a service-role principal needs a reason; it is written to the audit log"
            )
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))

    @classmethod
    def from_verified_claims(cls, claims: Mapping[str, Any]) -> Principal:
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
    def label(self) -> str:
        """A short human-readable name for logs and error messages."""
        if self.agent:
            return f"agent:{self.agent}"
        if self.db_role == "service_role":
            return f"service_role ({self.reason})"
        return self.email or self.user_id or self.db_role
