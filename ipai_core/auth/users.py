"""Local users: identities in `auth.users` (as Supabase keeps them), application roles in
`raw_app_meta_data.roles`, company scopes in `ipai_user_company`, scrypt password hashes in
`ipai_local_credential`.

`auth.users` is read and written only through SECURITY DEFINER functions of the migrations
(`public.ipai_users()`, `ipai_user_create()`, …), never directly: on Supabase `service_role`
has no grant on it and its `id` has no default. Those functions audit every change themselves.

Everything runs as the service role with a stated reason, so each session is audited too. The
Users admin page passes its signed-in admin as `actor`: the session then carries the admin's id,
so audit entries and `ipai_user_company.granted_by` name who acted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg

from ipai_core.auth.passwords import hash_password, verify_password
from ipai_core.auth.tokens import TokenService
from ipai_core.db.pool import Database
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession, session
from ipai_core.errors import AccessDenied, ConfigError, InvalidCredentials, NotFound

ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_FAILED_ATTEMPTS = 10
LOCKOUT = "15 minutes"
ADMIN_ROLE = "admin"
KNOWN_ROLES = ("admin", "finance", "auditor", "analyst", "devops", "data_engineer", "ai_engineer")


@dataclass(frozen=True)
class UserRecord:
    """A user as `ipai users list` shows it; `company_ids` None: every company the roles allow."""

    id: str
    email: str
    roles: tuple[str, ...]
    company_ids: tuple[int, ...] | None
    created_at: datetime
    last_sign_in_at: datetime | None
    has_password: bool
    active: bool = True


@dataclass(frozen=True)
class Account:
    """What a token issued for a local account carries (`public.ipai_user_claims`)."""

    id: str
    email: str
    roles: tuple[str, ...]
    company_ids: tuple[int, ...] | None
    generation: int

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Account:
        ids = claims.get("company_ids")
        return cls(
            id=str(claims["id"]),
            email=str(claims.get("email") or ""),
            roles=tuple(str(r) for r in claims.get("roles") or ()),
            company_ids=None if ids is None else tuple(int(i) for i in ids),
            generation=int(claims.get("generation") or 0),
        )


@dataclass(frozen=True)
class Company:
    id: int
    name: str


_SELECT_USERS = (
    "SELECT id::text, email, roles, company_ids, created_at, last_sign_in_at, has_password,"
    " active FROM public.ipai_users(%s)"
)


def add_user(
    db: Database,
    email: str,
    password: str,
    roles: Sequence[str] = (),
    *,
    actor: Principal | None = None,
) -> UserRecord:
    """Create a local user; refuses an email that already exists."""
    email = _normalised_email(email)
    checked_roles = _checked_roles(roles)
    password_hash = hash_password(password)
    with _managing(db, f"users add {email}", actor, email) as s:
        user_id = s.scalar("SELECT public.ipai_user_create(%s, %s)::text", [email, checked_roles])
        s.execute(
            "INSERT INTO public.ipai_local_credential (user_id, password_hash) VALUES (%s, %s)",
            [user_id, password_hash],
        )
        return _get(s, email)


def list_users(db: Database, *, actor: Principal | None = None) -> list[UserRecord]:
    with _managing(db, "users list", actor, "") as s:
        rows = s.query(_SELECT_USERS, [None]).rows()
    return [_record(row) for row in rows]


def get_user(db: Database, email: str, *, actor: Principal | None = None) -> UserRecord:
    email = _normalised_email(email)
    with _managing(db, "users show", actor, email) as s:
        return _get(s, email)


def grant_roles(
    db: Database,
    email: str,
    roles: Sequence[str],
    *,
    revoke: bool = False,
    actor: Principal | None = None,
) -> UserRecord:
    """Add (or with `revoke`, remove) application roles; they apply from the user's next request
    on, since every verification reads them again."""
    email = _normalised_email(email)
    changed = _checked_roles(roles)
    if revoke and ADMIN_ROLE in changed:
        _not_yourself(db, actor, email, "take the admin role from yourself")
    verb, change = (
        ("revoke", "SELECT public.ipai_user_revoke_roles(%s, %s)")
        if revoke
        else ("grant", "SELECT public.ipai_user_grant_roles(%s, %s)")
    )
    with _managing(db, f"users {verb} {email}", actor, email) as s:
        user = _get(s, email)
        s.scalar(change, [user.id, changed])
        return _get(s, email)


def set_roles(
    db: Database, email: str, roles: Sequence[str], *, actor: Principal | None = None
) -> UserRecord:
    """Make a user's roles exactly `roles` (what the Users admin page saves)."""
    wanted = set(_checked_roles(roles))
    user = get_user(db, email, actor=actor)
    if wanted - set(user.roles):
        user = grant_roles(db, email, sorted(wanted - set(user.roles)), actor=actor)
    if set(user.roles) - wanted:
        user = grant_roles(db, email, sorted(set(user.roles) - wanted), revoke=True, actor=actor)
    return user


def set_companies(
    db: Database, email: str, company_ids: Sequence[int], *, actor: Principal | None = None
) -> UserRecord:
    """Make a user's company scope exactly `company_ids` (what the Users admin page saves):
    new ones are granted before old ones are revoked, so the scope never becomes empty (which
    would mean every company) on the way."""
    wanted = set(_checked_company_ids(company_ids))
    user = get_user(db, email, actor=actor)
    have = set(user.company_ids or ())
    if wanted - have or user.company_ids is None:
        user = grant_companies(db, email, sorted(wanted), actor=actor)
    if have - wanted:
        user = revoke_companies(db, email, sorted(have - wanted), actor=actor)
    return user


def grant_companies(
    db: Database, email: str, company_ids: Sequence[int], *, actor: Principal | None = None
) -> UserRecord:
    """Limit a user's finance data to these ERP companies too (a user without a scope sees only
    these from the next request on). Unknown company ids are refused with `NotFound`."""
    email = _normalised_email(email)
    ids = _checked_company_ids(company_ids)
    with _managing(db, f"users grant-company {email}", actor, email) as s:
        user = _get(s, email)
        s.scalar("SELECT public.ipai_user_grant_companies(%s, %s::bigint[])", [user.id, ids])
        return _get(s, email)


def revoke_companies(
    db: Database, email: str, company_ids: Sequence[int] | None, *, actor: Principal | None = None
) -> UserRecord:
    """Take companies out of a user's scope; `None` lifts the whole scope (every company the
    roles allow). Removing the last one otherwise is refused: it would widen access."""
    email = _normalised_email(email)
    ids = None if company_ids is None else _checked_company_ids(company_ids)
    with _managing(db, f"users revoke-company {email}", actor, email) as s:
        user = _get(s, email)
        s.scalar("SELECT public.ipai_user_revoke_companies(%s, %s::bigint[])", [user.id, ids])
        return _get(s, email)


def delete_user(db: Database, email: str, *, actor: Principal | None = None) -> None:
    """Delete a user (credentials and scopes with it); their tokens are refused from the next
    request on."""
    email = _normalised_email(email)
    _not_yourself(db, actor, email, "delete your own account")
    with _managing(db, f"users delete {email}", actor, email) as s:
        user = _get(s, email)
        s.scalar("SELECT public.ipai_user_delete(%s)", [user.id])


def end_sessions(
    db: Database, email: str, *, actor: Principal | None = None, reason: str = "sign_out"
) -> None:
    """Sign a user out everywhere: every token issued so far is refused at its next request."""
    email = _normalised_email(email)
    with _managing(db, f"users sign-out {email}", actor, email) as s:
        user = _get(s, email)
        s.scalar("SELECT public.ipai_user_revoke_sessions(%s, %s)", [user.id, reason])


def set_password(
    db: Database, email: str, password: str, *, actor: Principal | None = None
) -> None:
    """Set a local user's password (and unlock the account); the user's sessions end."""
    email = _normalised_email(email)
    password_hash = hash_password(password)
    with _managing(db, f"users passwd {email}", actor, email) as s:
        user = _get(s, email)
        s.execute(
            "INSERT INTO public.ipai_local_credential (user_id, password_hash) VALUES (%s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
            " failed_attempts = 0, locked_until = NULL",
            [user.id, password_hash],
        )
        s.execute("SELECT public.ipai_audit('auth', 'user', %s, 'password_set', '{}')", [user.id])
        s.scalar("SELECT public.ipai_user_revoke_sessions(%s, 'password_set')", [user.id])


def list_companies(db: Database) -> list[Company]:
    """The ERP companies a scope can name (synced by the ERP connector)."""
    with session(db, Principal.service("users: list companies")) as s:
        rows = s.query(
            "SELECT id, coalesce(name, '') FROM ipai_bronze_erp.res_company"
            " WHERE NOT _ipai_deleted ORDER BY id"
        ).rows()
    return [Company(int(i), str(n)) for i, n in rows]


def account(db: Database, email: str) -> Account:
    """The active local account `email`, as a token issued for it now would carry it."""
    email = _normalised_email(email)
    with session(db, Principal.service(f"users token {email}")) as s:
        claims = s.scalar("SELECT public.ipai_user_for_sign_in(%s)", [email])
    if claims is None:
        raise NotFound(f"no active user `{email}`; list users with `ipai users list`", name=email)
    return Account.from_claims(claims)


def issue_token(
    tokens: TokenService,
    user: Account,
    *,
    roles: Sequence[str] | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    ttl_seconds: int | None = None,
) -> str:
    """A token for `user` with its company scope and token generation (`roles` narrows them)."""
    return tokens.issue(
        user_id=user.id,
        email=user.email,
        roles=user.roles if roles is None else roles,
        company_ids=user.company_ids,
        extra_claims={"ipai_generation": user.generation, **(extra_claims or {})},
        ttl_seconds=ttl_seconds,
    )


def sign_in(db: Database, tokens: TokenService, email: str, password: str) -> str:
    """Check a local user's password and return a signed access token.

    Wrong email and wrong password fail alike; ten failures in a row lock the account for a while.
    """
    email = email.strip().lower()
    with session(db, Principal.service("sign in")) as s:
        rows = s.query(
            "SELECT u.user_id::text, c.password_hash, coalesce(c.locked_until > now(), false)"
            "  FROM (SELECT (public.ipai_user_for_sign_in(%s) ->> 'id')::uuid AS user_id) u"
            "  JOIN public.ipai_local_credential c ON c.user_id = u.user_id",
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
            claims = s.scalar("SELECT public.ipai_user_signed_in(%s, '{}')", [user_id])
    if not accepted:
        raise InvalidCredentials(
            "email or password is wrong (or the account is locked after repeated failures); "
            "try again, or ask an admin to reset it with `ipai users passwd`"
        )
    return issue_token(tokens, Account.from_claims(claims))


def sign_in_trusted(db: Database, tokens: TokenService, email: str) -> str:
    """A token for the active local account `email`, without a password: for a reverse proxy
    that authenticated the user itself (`ipai_core.workspace.proxy`). Audited as a sign-in."""
    email = email.strip().lower()
    with session(db, Principal.service("trusted proxy sign-in")) as s:
        found = s.scalar("SELECT public.ipai_user_for_sign_in(%s)", [email])
        if found is None:
            raise InvalidCredentials(
                "the trusted proxy forwarded an e-mail without an active local account; "
                "create it with `ipai users add EMAIL --role ROLE`"
            )
        claims = s.scalar(
            "SELECT public.ipai_user_signed_in(%s, %s)",
            [found["id"], json.dumps({"via": "trusted_proxy"})],
        )
    return issue_token(tokens, Account.from_claims(claims))


@contextmanager
def _managing(
    db: Database, reason: str, actor: Principal | None, email: str
) -> Iterator[ScopedSession]:
    """A service-role session for one user-management step, with the database's refusals
    turned into our errors (one line each, never a driver traceback)."""
    try:
        with session(db, _service(reason, actor)) as s:
            yield s
    except psycopg.errors.UniqueViolation as exc:
        raise ConfigError(
            f"a user `{email}` already exists; use `ipai users grant` or "
            "`ipai users passwd` to change it"
        ) from exc
    except psycopg.errors.NoDataFound as exc:
        raise NotFound(_database_says(exc), name=email) from exc
    except (
        psycopg.errors.InvalidParameterValue,
        psycopg.errors.ForeignKeyViolation,
        psycopg.errors.RaiseException,
    ) as exc:
        raise ConfigError(_database_says(exc)) from exc


def _service(reason: str, actor: Principal | None) -> Principal:
    if actor is None:
        return Principal.service(reason)
    if ADMIN_ROLE not in actor.roles or actor.user_id is None:
        raise AccessDenied(
            f"`{actor.label}` may not manage users: that takes the `admin` role "
            "(`ipai users grant EMAIL admin`)",
            principal=actor.label,
        )
    claims = {"role": "service_role", "sub": actor.user_id, "email": actor.email or ""}
    return Principal(db_role="service_role", claims=claims, reason=f"{reason} by {actor.label}")


def _not_yourself(db: Database, actor: Principal | None, email: str, what: str) -> None:
    """An admin on the admin page must not lock themselves out; another admin can do it."""
    if actor is not None and actor.user_id == get_user(db, email, actor=actor).id:
        raise ConfigError(f"you cannot {what} here; ask another admin (or use `ipai users`)")


def _database_says(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary or str(exc)
    hint = exc.diag.message_hint
    return f"{primary}. {hint}" if hint else primary


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
    rows = s.query(_SELECT_USERS, [email]).rows()
    if not rows:
        raise NotFound(f"no user `{email}`; list users with `ipai users list`", name=email)
    return _record(rows[0])


def _record(row: tuple[object, ...]) -> UserRecord:
    user_id, email, roles, company_ids, created_at, last_sign_in_at, has_password, active = row
    ids = _json(company_ids)
    return UserRecord(
        id=str(user_id),
        email=str(email),
        roles=tuple(str(r) for r in _json(roles) or ()),
        company_ids=None if ids is None else tuple(int(i) for i in ids),
        created_at=created_at,  # type: ignore[arg-type]
        last_sign_in_at=last_sign_in_at,  # type: ignore[arg-type]
        has_password=bool(has_password),
        active=bool(active),
    )


def _json(value: object) -> Any:
    return json.loads(value) if isinstance(value, str) else value


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


def _checked_company_ids(company_ids: Sequence[int]) -> list[int]:
    ids = sorted({int(c) for c in company_ids})
    if not ids or any(c <= 0 for c in ids):
        raise ConfigError(
            f"name one or more positive ERP company ids (got `{', '.join(map(str, ids))}`); "
            "`ipai users companies` lists them"
        )
    return ids
