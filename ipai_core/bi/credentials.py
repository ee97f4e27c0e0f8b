"""BI credentials' effects, all in one place: create, list, rotate and revoke a login role and its
registry row, each in one transaction with its audit entry, on the owner's connection (the role
that runs migrations: CREATEROLE, ADMIN OPTION on `ipai_bi`).

What the login may then read is the database's business: `ipai_bi`'s grants
(`public.ipai_bi_sync()`, run here after each change) and the access helpers, which answer with
the credential's person's current roles. Revocation is a column (`revoked_at`) whose trigger
disables the login; its sessions are also ended once the change is committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ipai_core.bi.model import (
    AuthMethod,
    BiCredential,
    IssuedCredential,
    LoginLimits,
    login_role,
)
from ipai_core.bi.model import auth_method as checked_auth_method
from ipai_core.bi.password import new_password
from ipai_core.bi.plan import create_login, set_password
from ipai_core.db.logins import scram_verifier
from ipai_core.errors import AccessDenied, ConfigError, NotFound

_SELECT = """
SELECT c.id::text, c.name, c.login_role::text, c.user_id::text, u.email::text, c.auth_method,
       c.statement_timeout_ms, c.connection_limit, c.created_at, c.created_by, c.rotated_at,
       c.revoked_at,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.usename = c.login_role)::int
  FROM public.ipai_bi_credential c LEFT JOIN auth.users u ON u.id = c.user_id
"""


def add_credential(
    conn: psycopg.Connection,
    name: str,
    email: str,
    *,
    auth_method: AuthMethod = "password",
    limits: LoginLimits | None = None,
) -> IssuedCredential:
    """Create the login role of `name` for the person with `email`; its password is returned
    once (none for `certificate`: the server's pg_hba must then accept a client certificate whose
    CN is the login role)."""
    auth_method = checked_auth_method(auth_method)
    role = login_role(name)
    limits = limits or LoginLimits()
    with _privileged(conn), conn.transaction():
        user_id = _active_user_id(conn, email)
        _refuse_taken(conn, name, role)
        password = new_password() if auth_method == "password" else None
        verifier = scram_verifier(conn, role, password) if password else None
        for statement in create_login(
            role, verifier=verifier, limits=limits, server_version=conn.info.server_version
        ):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO public.ipai_bi_credential (login_role, name, user_id, auth_method,"
            " statement_timeout_ms, connection_limit) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                role,
                name,
                user_id,
                auth_method,
                limits.statement_timeout_ms,
                limits.connection_limit,
            ],
        )
        conn.execute("SELECT public.ipai_bi_sync()")
        credential = get_credential(conn, name)
        _audit(conn, credential, "bi_credential_created")
    return IssuedCredential(credential, password)


def list_credentials(conn: psycopg.Connection) -> list[BiCredential]:
    rows = conn.execute(_SELECT + " ORDER BY c.name").fetchall()
    return [_credential(row) for row in rows]


def get_credential(conn: psycopg.Connection, name: str) -> BiCredential:
    row = conn.execute(_SELECT + " WHERE c.name = %s", [name]).fetchone()
    if row is None:
        raise NotFound(
            f"no BI credential `{name}`; list them with `ipai bi credentials list`", name=name
        )
    return _credential(row)


def rotate_credential(conn: psycopg.Connection, name: str) -> IssuedCredential:
    """A new password (returned once); the old one and the sessions opened with it stop working."""
    with _privileged(conn), conn.transaction():
        credential = _active(conn, name)
        if credential.auth_method != "password":
            raise ConfigError(
                f"BI credential `{name}` signs in with a client certificate and has no password; "
                "issue a new certificate for its login role instead"
            )
        password = new_password()
        conn.execute(
            set_password(
                credential.login_role, scram_verifier(conn, credential.login_role, password)
            )
        )
        conn.execute(
            "UPDATE public.ipai_bi_credential SET rotated_at = now() WHERE name = %s", [name]
        )
        conn.execute("SELECT public.ipai_bi_sync()")
        _audit(conn, credential, "bi_credential_rotated")
    _end_sessions(conn, credential.login_role)
    return IssuedCredential(get_credential(conn, name), password)


def revoke_credential(conn: psycopg.Connection, name: str) -> BiCredential:
    """Revoke for good: the login role can no longer sign in or read anything, and its open
    sessions are ended, so the BI tool's next query fails."""
    with _privileged(conn), conn.transaction():
        credential = _active(conn, name)
        conn.execute(
            "UPDATE public.ipai_bi_credential SET revoked_at = now() WHERE name = %s", [name]
        )
        _audit(conn, credential, "bi_credential_revoked")
    _end_sessions(conn, credential.login_role)  # again, now that NOLOGIN is committed
    return get_credential(conn, name)


def sync_grants(conn: psycopg.Connection) -> int:
    """Re-derive what `ipai_bi` may read (after creating views without the DDL event trigger)."""
    with _privileged(conn):
        row = conn.execute("SELECT public.ipai_bi_sync()").fetchone()
    return int(row[0]) if row else 0


def _active(conn: psycopg.Connection, name: str) -> BiCredential:
    conn.execute("SELECT 1 FROM public.ipai_bi_credential WHERE name = %s FOR UPDATE", [name])
    credential = get_credential(conn, name)
    if not credential.active:
        raise ConfigError(
            f"BI credential `{name}` was revoked at {credential.revoked_at:%Y-%m-%d %H:%M:%S %Z}; "
            f"create a new one with `ipai bi credentials add NAME --for {credential.email}`"
        )
    return credential


def _active_user_id(conn: psycopg.Connection, email: str) -> str:
    row = conn.execute(
        "SELECT u.id::text, public.ipai_auth_user_is_active(to_jsonb(u)) FROM auth.users u"
        " WHERE lower(u.email) = lower(%s)",
        [email.strip()],
    ).fetchone()
    if row is None:
        raise NotFound(f"no user `{email}`; create it with `ipai users add {email}`", name=email)
    if not row[1]:
        raise ConfigError(f"user `{email}` is deleted or banned; a BI credential would see nothing")
    return str(row[0])


def _refuse_taken(conn: psycopg.Connection, name: str, role: str) -> None:
    if conn.execute("SELECT 1 FROM public.ipai_bi_credential WHERE name = %s", [name]).fetchone():
        raise ConfigError(
            f"a BI credential `{name}` already exists (revoked names are not reused); "
            "choose another name, or `ipai bi credentials rotate` it"
        )
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
        raise ConfigError(
            f"a role `{role}` already exists on this server (roles are shared by all its "
            "databases); choose another credential name"
        )


def _end_sessions(conn: psycopg.Connection, role: str) -> None:
    conn.execute("SELECT public.ipai_bi_terminate_sessions(%s)", [role])


def _audit(conn: psycopg.Connection, credential: BiCredential, action: str) -> None:
    details = {
        "name": credential.name,
        "login_role": credential.login_role,
        "user_id": credential.user_id,
        "email": credential.email,
        "auth_method": credential.auth_method,
        "statement_timeout_ms": credential.statement_timeout_ms,
        "connection_limit": credential.connection_limit,
    }
    conn.execute(
        "SELECT public.ipai_audit('bi', 'bi_credential', %s, %s, %s)",
        [credential.id, action, json.dumps(details)],
    )


@contextmanager
def _privileged(conn: psycopg.Connection) -> Iterator[None]:
    """Turns the server refusing the owner (no CREATEROLE, no ADMIN OPTION on `ipai_bi`) into an
    `AccessDenied` that says what the role lacks."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        user = conn.info.user
        raise AccessDenied(
            f"the database refused `{user}`: {exc.diag.message_primary}. BI credentials are "
            "managed with the owner's connection (the role that runs `ipai migrate`), which "
            "needs CREATEROLE and ADMIN OPTION on `ipai_bi`",
            principal=user,
            sqlstate=exc.sqlstate,
        ) from exc


def _credential(row: tuple[Any, ...]) -> BiCredential:
    return BiCredential(*row)
