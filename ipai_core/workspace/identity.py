"""Who is signed in to this script run, the Lakehouse the workspace shares, and what per-user
caches are keyed by.

The token comes from a trusted reverse proxy's forwarded headers (see `proxy`), else from the
`ipai_session` cookie that `routes` sets at sign-in, else from `st.session_state["ipai_token"]`
— the seam `AppTest` uses, since it cannot send cookies. Whichever it is, it is verified before
anything uses it, on every run.

Pages cache reads with `st.cache_data(ttl=CACHE_TTL_SECONDS)` keyed by `cache_key(principal)` —
the database, the user's id, roles *and* company scope — passed as an explicit argument: one
user's cached rows are never served to another, and a change of roles or companies misses the
cache (the token is checked against the database on every run, `Lakehouse.authenticate`). (The
cached functions live in the pages, which run inside the Streamlit runtime; this module is also
imported by the server before that runtime exists.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NoReturn

import streamlit as st

from ipai_core.auth.claims import REVOKED, company_scope
from ipai_core.auth.users import sign_in_trusted
from ipai_core.catalog.objects import CatalogObject, CatalogSchema, list_objects, list_schemas
from ipai_core.db.location import location_label
from ipai_core.db.principal import Principal
from ipai_core.errors import DatabaseError, InvalidCredentials, InvalidToken
from ipai_core.lakehouse import Lakehouse
from ipai_core.settings import Settings, get_settings
from ipai_core.workspace import proxy
from ipai_core.workspace.routes import SESSION_COOKIE

TOKEN_STATE_KEY = "ipai_token"  # noqa: S105 - a session-state key, not a secret
SESSION_EXPIRED = "Your session expired, sign in again."
SESSION_ENDED = (
    "Your session was ended (you signed out, or an admin changed or removed your account); "
    "sign in again."
)
DATABASE_DOWN = "The workspace database is not reachable right now; reload this page in a minute."
NOT_A_USER = "That session does not belong to a user account, sign in again."
NO_LOCAL_ACCOUNT = "Your sign-in has no account in this workspace yet; ask an admin to add one."
ADMINS_ONLY = "This page is for admins. Ask an admin if you need what it shows."
FORWARDED_STATE_KEY = "ipai_forwarded"  # (e-mail, token) issued for a trusted proxy's e-mail
CACHE_TTL_SECONDS = 60
CACHE_MAX_ENTRIES = 512

CacheKey = tuple[str, str, tuple[str, ...], tuple[int, ...] | None]

_log = logging.getLogger(__name__)
_pinned_settings: Settings | None = None


def use_settings(settings: Settings | None) -> None:
    """Pin the settings the workspace runs with (the server does; so do tests). `None` returns
    to `get_settings()`. Unless the same object is pinned already, the cached Lakehouse is
    closed, so the next run opens one with them."""
    global _pinned_settings
    if settings is not None and settings is _pinned_settings:
        return
    _pinned_settings = settings
    get_lakehouse.clear()


def _close(lakehouse: Lakehouse) -> None:
    lakehouse.close()


@st.cache_resource(show_spinner=False, on_release=_close)
def get_lakehouse() -> Lakehouse:
    """The process's one Lakehouse (and its connection pool), opened on first use."""
    return Lakehouse.open(_pinned_settings or get_settings())


def current_principal() -> Principal | None:
    """The verified user of this run, or None (with a one-line notice if a token was refused)."""
    token = _session_token()
    if token is None:
        return None
    try:
        principal = _lakehouse_or_stop().authenticate(token)  # roles and scope as of now
    except InvalidToken as exc:
        _refuse(SESSION_ENDED if exc.reason == REVOKED else SESSION_EXPIRED)
        return None
    except DatabaseError as exc:
        _database_down(exc)
    if principal.db_role != "authenticated" or principal.user_id is None:
        _refuse(NOT_A_USER)  # the workspace is for people, not for service-role or anon tokens
        return None
    return principal


def require_principal() -> Principal:
    """The verified user, for pages: anyone else gets a sign-in hint and the page stops."""
    principal = current_principal()
    if principal is None:
        st.warning("Sign in to see this page.", icon=":material/login:")
        st.stop()
    return principal


def require_admin() -> Principal:
    """The verified user, for admin pages: anyone without the admin role is told so and the
    page stops (the data behind those pages is refused to them by RLS as well)."""
    principal = require_principal()
    if "admin" not in principal.roles:
        st.error(ADMINS_ONLY, icon=":material/admin_panel_settings:")
        st.stop()
    return principal


def cache_key(principal: Principal) -> CacheKey:
    """What per-user caches are keyed by: the database, the user's id, roles and company scope
    (read again from the database at every run, so a change misses the cache at once)."""
    user = principal.user_id or principal.db_role
    scope = company_scope(principal.claims)
    return (database_location(), user, tuple(sorted(principal.roles)), scope)


@dataclass(frozen=True)
class CatalogView:
    """The catalog as one user sees it: schemas in layer order, objects with their row counts."""

    schemas: tuple[CatalogSchema, ...]
    objects: tuple[CatalogObject, ...]

    def objects_in(self, schema: str) -> list[CatalogObject]:
        return [obj for obj in self.objects if obj.schema == schema]

    @property
    def readable(self) -> int:
        return sum(obj.readable for obj in self.objects)


def read_catalog(key: CacheKey, principal: Principal) -> CatalogView:
    """The catalog under `principal`'s grants and RLS. Pages cache this with `st.cache_data`
    keyed by `key`, which must be `cache_key(principal)`; anything else is refused."""
    if key != cache_key(principal):
        raise ValueError("a catalog cache key must be the reading principal's own `cache_key`")
    with get_lakehouse().session(principal) as s:
        return CatalogView(schemas=tuple(list_schemas(s)), objects=tuple(list_objects(s)))


def database_location() -> str:
    """`host:port/dbname` of the workspace database — never the user name or password."""
    return location_label(get_lakehouse().db.url)


def _lakehouse_or_stop() -> Lakehouse:
    try:
        return get_lakehouse()
    except DatabaseError as exc:  # not cached: the next run tries again
        _database_down(exc)


def _database_down(exc: DatabaseError) -> NoReturn:
    _log.warning("workspace database unavailable: %s", exc)  # details for the operator only
    st.error(DATABASE_DOWN, icon=":material/cloud_off:")
    st.stop()


def _session_token() -> str | None:
    forwarded = _forwarded_token()
    if forwarded is not None:
        return forwarded
    for token in (st.context.cookies.get(SESSION_COOKIE), st.session_state.get(TOKEN_STATE_KEY)):
        if isinstance(token, str) and token:  # AppTest's cookies are mocks, not strings
            return token
    return None


def _forwarded_token() -> str | None:
    """The token a trusted proxy forwarded, or — when e-mail sign-in is enabled — one issued for
    the local account of the e-mail it forwarded (once per browser session; see `proxy`)."""
    forwarded = proxy.forwarded_identity(st.context.headers)
    if forwarded is None:
        return None
    if forwarded.token is not None:
        return forwarded.token
    lakehouse = _lakehouse_or_stop()
    if forwarded.email is None or not lakehouse.settings.trusted_proxy_email_sign_in:
        return None
    cached = st.session_state.get(FORWARDED_STATE_KEY)
    if isinstance(cached, tuple) and cached[0] == forwarded.email:
        return str(cached[1])
    try:
        token = sign_in_trusted(lakehouse.db, lakehouse.tokens, forwarded.email)
    except InvalidCredentials:
        _refuse(NO_LOCAL_ACCOUNT)
        return None
    st.session_state[FORWARDED_STATE_KEY] = (forwarded.email, token)
    return token


def _refuse(notice: str) -> None:
    st.session_state.pop(TOKEN_STATE_KEY, None)
    st.session_state.pop(FORWARDED_STATE_KEY, None)
    st.info(notice, icon=":material/lock_clock:")
