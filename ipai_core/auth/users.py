"""Local users: identities in `auth.users` (as Supabase keeps them), application roles in
`raw_app_meta_data.roles`, scrypt password hashes in `ipai_local_credential`.

All writes run as the service role with a stated reason, so each one is audited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from ipai_core.auth.passwords import hash_password, verify_password
from ipai_core.auth.tokens import TokenService
from ipai_core.db.pool import Database
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession, session
from ipai_core.errors import ConfigError, InvalidCredentials, NotFound

ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_FAILED_ATTEMPTS = 10
LOCKOUT = "15 minutes"


@dataclass(frozen=True)
class UserRecord:
    id: str
    email: str
    roles: tuple[str, ...]
    created_at: datetime
    last_sign_in_at: datetime | None
    has_password: bool


_SELECT_USERS = """
SELECT u.id::text, u.email, coalesce(u.raw_app_meta_data -> 'roles', '[]'::jsonb),
       u.created_at, u.last_sign_in_at, c.user_id IS NOT NULL
  FROM auth.users u LEFT JOIN public.ipai_local_credential c ON c.user_id = u.id
"""


def add_user(db: Database, email: str, password: str, roles: Sequence[str] = ()) -> UserRecord:
    """Create a local user; refuses an email that already exists."""
    email = _normalised_email(email)
    checked_roles = _checked_roles(roles)
    password_hash = hash_password(password)
    with session(db, Principal.service(f"users add {email}")) as s:
        if s.scalar("SELECT 1 FROM auth.users WHERE lower(email) = %s", [email]):
            raise ConfigError(
                f"a user `{email}` already exists; use `ipai users grant` or "
                "`ipai users passwd` to change it"
            )
        user_id = s.scalar(
            "INSERT INTO auth.users (email, aud, role, raw_app_meta_data, email_confirmed_at)"
            " VALUES (%s, 'authenticated', 'authenticated', %s, now()) RETURNING id::text",
            [
                email,
                json.dumps({"provider": "ipai", "providers": ["ipai"], "roles": checked_roles}),
            ],
        )
        s.execute(
            "INSERT INTO public.ipai_local_credential (user_id, password_hash) VALUES (%s, %s)",
            [user_id, password_hash],
        )
        s.execute(
            "SELECT public.ipai_audit('auth', 'user', %s, 'user_created', %s)",
            [user_id, json.dumps({"email": email, "roles": checked_roles})],
        )
        return _get(s, email)


def list_users(db: Database) -> list[UserRecord]:
    with session(db, Principal.service("users list")) as s:
        rows = s.query(_SELECT_USERS + " ORDER BY u.email").rows()
    return [_record(row) for row in rows]


def get_user(db: Database, email: str) -> UserRecord:
    with session(db, Principal.service("users show")) as s:
        return _get(s, _normalised_email(email))


def grant_roles(
    db: Database, email: str, roles: Sequence[str], *, revoke: bool = False
) -> UserRecord:
    """Add (or with `revoke`, remove) application roles; they take effect at the next sign-in."""
    email = _normalised_email(email)
    changed = _checked_roles(roles)
    with session(db, Principal.service(f"users grant {email}")) as s:
        current = _get(s, email)
        new_roles = (
            [r for r in current.roles if r not in changed]
            if revoke
            else sorted({*current.roles, *changed})
        )
        s.execute(
            "UPDATE auth.users SET raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb)"
            " || jsonb_build_object('roles', %s::jsonb), updated_at = now() WHERE id = %s",
            [json.dumps(new_roles), current.id],
        )
        s.execute(
            "SELECT public.ipai_audit('auth', 'user', %s, %s, %s)",
            [
                current.id,
                "roles_revoked" if revoke else "roles_granted",
                json.dumps({"email": email, "roles": changed, "now": new_roles}),
            ],
        )
        return _get(s, email)


def set_password(db: Database, email: str, password: str) -> None:
    email = _normalised_email(email)
    password_hash = hash_password(password)
    with session(db, Principal.service(f"users passwd {email}")) as s:
        user = _get(s, email)
        s.execute(
            "INSERT INTO public.ipai_local_credential (user_id, password_hash) VALUES (%s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
            " failed_attempts = 0, locked_until = NULL",
            [user.id, password_hash],
        )
        s.execute("SELECT public.ipai_audit('auth', 'user', %s, 'password_set', '{}')", [user.id])


def sign_in(db: Database, tokens: TokenService, email: str, password: str) -> str:
    """Check a local user's password and return a signed access token.

    Wrong email and wrong password fail alike; ten failures in a row lock the account for a while.
    """
    email = email.strip().lower()
    with session(db, Principal.service("sign in")) as s:
        rows = s.query(
            "SELECT u.id::text, c.password_hash, coalesce(c.locked_until > now(), false)"
            "  FROM auth.users u JOIN public.ipai_local_credential c ON c.user_id = u.id"
            " WHERE lower(u.email) = %s AND u.deleted_at IS NULL"
            "   AND (u.banned_until IS NULL OR u.banned_until < now())",
            [email],
        ).rows()
        user_id, password_hash, locked = rows[0] if rows else (None, _unknown_user_hash(), True)
        # Always run the KDF, so the answer takes as long for an unknown email as for a known one.
        password_ok = verify_password(password, str(password_hash))
        accepted = password_ok and not locked
        if user_id is not None and not accepted:
            _record_failure(s, str(user_id))  # committed: the failure counts even though we refuse
        if accepted:
            s.execute(
                "UPDATE public.ipai_local_credential SET failed_attempts = 0,"
                " locked_until = NULL WHERE user_id = %s",
                [user_id],
            )
            s.execute("UPDATE auth.users SET last_sign_in_at = now() WHERE id = %s", [user_id])
            s.execute("SELECT public.ipai_audit('auth', 'user', %s, 'sign_in', '{}')", [user_id])
            user = _get(s, email)
    if not accepted:
        raise InvalidCredentials(
            "email or password is wrong (or the account is locked after repeated failures); "
            "try again, or ask an admin to reset it with `ipai users passwd`"
        )
    return tokens.issue(user_id=user.id, email=user.email, roles=user.roles)


def sign_in_trusted(db: Database, tokens: TokenService, email: str) -> str:
    """A token for the active local account `email`, without a password: for a reverse proxy
    that authenticated the user itself (`ipai_core.workspace.proxy`). Audited as a sign-in."""
    email = email.strip().lower()
    with session(db, Principal.service("trusted proxy sign-in")) as s:
        user_id = s.scalar(
            "SELECT id::text FROM auth.users WHERE lower(email) = %s AND deleted_at IS NULL"
            " AND (banned_until IS NULL OR banned_until < now())",
            [email],
        )
        if user_id is None:
            raise InvalidCredentials(
                "the trusted proxy forwarded an e-mail without an active local account; "
                "create it with `ipai users add EMAIL --role ROLE`"
            )
        s.execute("UPDATE auth.users SET last_sign_in_at = now() WHERE id = %s", [user_id])
        s.execute(
            "SELECT public.ipai_audit('auth', 'user', %s, 'sign_in', %s)",
            [user_id, json.dumps({"via": "trusted_proxy"})],
        )
        user = _get(s, email)
    return tokens.issue(user_id=user.id, email=user.email, roles=user.roles)


@lru_cache(maxsize=1)
def _unknown_user_hash() -> str:
    return hash_password("no such user: this hash only makes the refusal cost the same time")


def _record_failure(s: ScopedSession, user_id: str) -> None:
    s.execute(
        "UPDATE public.ipai_local_credential SET failed_attempts = failed_attempts + 1,"
        " locked_until = CASE WHEN failed_attempts + 1 >= %s THEN now() + %s::interval END"
        " WHERE user_id = %s",
        [MAX_FAILED_ATTEMPTS, LOCKOUT, user_id],
    )
    s.execute("SELECT public.ipai_audit('auth', 'user', %s, 'sign_in_failed', '{}')", [user_id])


def _get(s: ScopedSession, email: str) -> UserRecord:
    rows = s.query(_SELECT_USERS + " WHERE lower(u.email) = %s", [email]).rows()
    if not rows:
        raise NotFound(f"no user `{email}`; list users with `ipai users list`", name=email)
    return _record(rows[0])


def _record(row: tuple[object, ...]) -> UserRecord:
    user_id, email, roles, created_at, last_sign_in_at, has_password = row
    return UserRecord(
        id=str(user_id),
        email=str(email),
        roles=tuple(json.loads(str(roles))),
        created_at=created_at,  # type: ignore[arg-type]
        last_sign_in_at=last_sign_in_at,  # type: ignore[arg-type]
        has_password=bool(has_password),
    )


def _normalised_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ConfigError(f"`{email}` is not an email address")
    return email


def _checked_roles(roles: Sequence[str]) -> list[str]:
    bad = [r for r in roles if not ROLE_NAME.match(r)]
    if bad:
        raise ConfigError(
            f"role names must be lower_snake_case (got `{', '.join(bad)}`); e.g. finance, admin"
        )
    return sorted(set(roles))
