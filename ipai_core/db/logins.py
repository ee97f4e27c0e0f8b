"""The database roles a process signs in as, PostgREST's `authenticator` pattern drawn narrower.

Nothing that runs a request logs in as the owner or a superuser. Three `LOGIN NOINHERIT` roles,
created by a migration, each able to `SET ROLE` only to what its sessions need:

- `ipai_authenticator`: people's sessions (`anon`, `authenticated`);
- `ipai_agents_authenticator`: agents' sessions (the `ipai_agent_<code>` roles);
- `ipai_service_authenticator`: `Principal.service(...)` sessions (`service_role`).

NOINHERIT means a login holds no privilege of its own until `SET LOCAL ROLE`; and since Postgres
checks `SET ROLE` against the *login* role, a statement inside a person's session cannot switch to
`service_role`, an agent's role or the owner: the database refuses it, whatever the SQL.

Their passwords are never stored: each is an HMAC of the JWT secret (which every process of a
workspace already shares), and the owner sets it as a SCRAM verifier, so the clear password never
travels to the server or its log. `open_logins` provisions them on first use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ipai_core.db.principal import Principal
from ipai_core.errors import DatabaseError

Login = Literal["users", "agents", "service"]

USERS_LOGIN = "ipai_authenticator"
AGENTS_LOGIN = "ipai_agents_authenticator"
SERVICE_LOGIN = "ipai_service_authenticator"
LOGIN_ROLES: dict[Login, str] = {
    "users": USERS_LOGIN,
    "agents": AGENTS_LOGIN,
    "service": SERVICE_LOGIN,
}
_AUTH_FAILED = ("28P01", "28000")  # invalid_password, invalid_authorization_specification


@dataclass(frozen=True)
class Logins:
    """The connection string of each login role (same server and database as the owner's)."""

    users: str
    agents: str
    service: str

    def url(self, login: Login) -> str:
        return str(getattr(self, login))

    def __iter__(self) -> Iterator[tuple[Login, str]]:
        for f in fields(self):
            yield f.name, getattr(self, f.name)  # type: ignore[misc]


def login_for(principal: Principal) -> Login:
    """Which login a principal's session must come from."""
    if principal.db_role == "service_role":
        return "service"
    if principal.agent:
        return "agents"
    return "users"


def login_password(jwt_secret: str, role: str) -> str:
    """The password of a login role: derived, so every process sharing the secret agrees."""
    digest = hmac.new(jwt_secret.encode(), f"ipai login:{role}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def logins_for(owner_url: str, jwt_secret: str) -> Logins:
    """The login URLs derived from the owner's URL: same host, port, database and options."""
    return Logins(
        **{
            login: _with_user(owner_url, role, login_password(jwt_secret, role))
            for login, role in LOGIN_ROLES.items()
        }
    )


def open_logins(owner_url: str, jwt_secret: str) -> Logins:
    """The login URLs, checked by signing in once; when a login is refused (first run, a rotated
    JWT secret), the owner sets its password and the sign-in is tried again."""
    logins = logins_for(owner_url, jwt_secret)
    try:
        _check_login(logins.users)
    except _LoginRefused:
        with psycopg.connect(owner_url, autocommit=True, connect_timeout=5) as owner:
            provision(owner, jwt_secret)
        _check_login(logins.users, final=True)
    return logins


def provision(owner: psycopg.Connection, jwt_secret: str) -> None:
    """Set each login role's password (as a SCRAM verifier) from `jwt_secret`."""
    missing = [
        role
        for role in LOGIN_ROLES.values()
        if owner.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None
    ]
    if missing:
        raise DatabaseError(
            f"the login role(s) `{', '.join(missing)}` do not exist yet: run `ipai migrate` "
            "(it creates them) before serving requests"
        )
    for role in LOGIN_ROLES.values():
        verifier = scram_verifier(owner, role, login_password(jwt_secret, role))
        owner.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(verifier)
            )
        )


def scram_verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    """The `SCRAM-SHA-256$…` verifier of `password` for `role`, computed by libpq on this side."""
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    return verifier.decode()


def _with_user(url: str, role: str, password: str) -> str:
    params = conninfo_to_dict(url)
    user = str(params.get("user") or "")
    # A pooler that routes by `user.tenant` (Supabase's Supavisor) needs the tenant kept.
    tenant = user.partition(".")[2]
    params["user"] = f"{role}.{tenant}" if tenant else role
    params["password"] = password
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


class _LoginRefused(Exception):
    pass


def _check_login(url: str, *, final: bool = False) -> None:
    try:
        with psycopg.connect(url, connect_timeout=5):
            return
    except psycopg.OperationalError as exc:
        refused = exc.sqlstate in _AUTH_FAILED or "authentication failed" in str(exc)
        if refused and not final:
            raise _LoginRefused from exc
        raise DatabaseError(
            f"cannot sign in as `{USERS_LOGIN}`: {' '.join(str(exc).split())}. Run "
            "`ipai migrate` (it creates the login roles), and give every process of this "
            "workspace the same IPAI_JWT_SECRET (login passwords derive from it)"
        ) from exc
