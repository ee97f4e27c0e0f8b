"""What a BI credential is, as data: its name and login role, the limits set on that role, the
registry row as `ipai bi credentials list` shows it, and what `add`/`rotate` hand back once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ipai_core.errors import ConfigError

AuthMethod = Literal["password", "certificate"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("password", "certificate")
LOGIN_ROLE_PREFIX = "ipai_bi_"
GROUP_ROLE = "ipai_bi"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # the prefix + 40 fits a role name, as the table says


def login_role(name: str) -> str:
    """The Postgres login role of a credential: `ipai_bi_<name>`."""
    if not NAME.match(name):
        raise ConfigError(
            f"BI credential name `{name[:60]}` must be 1 to 40 lower-case letters, digits or `_`, "
            "starting with a letter (e.g. `superset_finance`)"
        )
    return LOGIN_ROLE_PREFIX + name


def auth_method(value: str) -> AuthMethod:
    """`value` checked to be one of `AUTH_METHODS`."""
    for method in AUTH_METHODS:
        if value == method:
            return method
    raise ConfigError(f"auth method `{value[:40]}` is not one of {', '.join(AUTH_METHODS)}")


@dataclass(frozen=True)
class LoginLimits:
    """Settings of the login role: its statement timeout and idle-in-transaction timeout (session
    defaults — Postgres lets any session change its own, so they bound a well-behaved tool, not a
    hostile one) and its connection limit (enforced by the server)."""

    statement_timeout_ms: int = 60_000
    connection_limit: int = 5
    idle_in_transaction_timeout_ms: int = 300_000

    def __post_init__(self) -> None:
        for label, value in (
            ("statement timeout", self.statement_timeout_ms),
            ("connection limit", self.connection_limit),
            ("idle-in-transaction timeout", self.idle_in_transaction_timeout_ms),
        ):
            if value <= 0:
                raise ConfigError(f"the {label} of a BI login must be positive, got `{value}`")


@dataclass(frozen=True)
class BiCredential:
    """One row of `public.ipai_bi_credential`, with its person's e-mail and open sessions."""

    id: str
    name: str
    login_role: str
    user_id: str
    email: str | None
    auth_method: AuthMethod
    statement_timeout_ms: int
    connection_limit: int
    created_at: datetime
    created_by: str
    rotated_at: datetime | None
    revoked_at: datetime | None
    open_sessions: int

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedCredential:
    """What `add` and `rotate` return: the credential, and its password — shown once, stored
    nowhere (None for a certificate credential)."""

    credential: BiCredential
    password: str | None
