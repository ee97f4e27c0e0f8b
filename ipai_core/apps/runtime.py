"""`open_app(slug)`: the first line of every app page — the one place apps touch Streamlit's
session machinery.

It finds the signed-in user exactly as the workspace does (`ipai_core.workspace.identity`), reads
the app's manifest, asks the database whether that user may open the app
(`public.ipai_open_app`, which refuses with 42501 when the app's registry row is invisible to
the user under RLS) and returns an `AppContext`. Anything else — signed out, refused, app not
registered or misconfigured, database down — is explained on the page in plain words and the
script stops there, so code after `open_app` only ever runs for a user the database let in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import streamlit as st

from ipai_core.apps import registry
from ipai_core.apps.context import AppContext
from ipai_core.apps.manifest import AppManifest, find_app
from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied, ConfigError, DatabaseError, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.workspace import identity
from ipai_core.workspace.routes import LOGIN_PATH
from ipai_core.workspace.ui import link, plain

FAVICON = "🧱"  # drawn locally; a `:material/…:` favicon would be fetched from the internet
SIGNED_OUT = "Sign in to open this app."
NEEDS_ROLE = "You cannot open {app}: it is for people with the role {roles}, and you have {mine}."
ASK_FOR_ROLE = "Ask an admin to grant you one of those roles (`ipai users grant EMAIL ROLE`)."
TURNED_OFF = (
    "{app} is not available right now: an admin has switched it off in the App registry, or "
    "has not registered it yet."
)
NOT_REGISTERED = "{app} is not registered in this workspace yet: run `ipai apps register {slug}`."
MISCONFIGURED = "This app cannot start because its manifest is invalid: {error}"


def open_app(slug: str) -> AppContext:
    """The context of app `slug` for the signed-in user, once the database has let them in;
    otherwise an explanation on the page, and the script stops."""
    principal = identity.current_principal()
    if principal is None:
        _stop_signed_out()
    lakehouse = identity.get_lakehouse()
    manifest = _manifest(lakehouse, slug)
    st.set_page_config(page_title=manifest.name, page_icon=FAVICON, layout="wide")
    try:
        with lakehouse.session(principal) as s:
            registry.check_open(s, slug)
    except AccessDenied:
        _stop_refused(manifest, principal)
    except NotFound:
        _stop(st.warning, NOT_REGISTERED.format(app=plain(manifest.name), slug=slug))
    except DatabaseError:
        _stop(st.error, identity.DATABASE_DOWN)
    return AppContext(app=manifest, principal=principal, lakehouse=lakehouse)


def _manifest(lakehouse: Lakehouse, slug: str) -> AppManifest:
    try:
        return find_app(lakehouse.settings.apps_dir, slug)
    except ConfigError as exc:
        _stop(st.error, MISCONFIGURED.format(error=plain(str(exc))))


def _stop_signed_out() -> NoReturn:
    st.warning(SIGNED_OUT, icon=":material/login:")
    st.html(link(LOGIN_PATH, "Sign in", primary=True))
    st.stop()


def _stop_refused(manifest: AppManifest, principal: Principal) -> NoReturn:
    """Admins see every registry row, so their refusal is a switched-off app. For anyone who
    holds one of the app's roles, RLS hides the row only when the app is off or unregistered.
    Everyone else lacks the role."""
    name = plain(manifest.name)
    roles = set(principal.roles)
    if "admin" in roles or not manifest.required_roles or roles & set(manifest.required_roles):
        _stop(st.warning, TURNED_OFF.format(app=name))
    needed = " or ".join(f"**{plain(r)}**" for r in manifest.required_roles)
    mine = ", ".join(f"**{plain(r)}**" for r in sorted(roles)) or "none"
    st.error(NEEDS_ROLE.format(app=name, roles=needed, mine=mine), icon=":material/lock:")
    st.caption(ASK_FOR_ROLE)
    st.stop()


def _stop(show: Callable[[str], object], message: str) -> NoReturn:
    show(message)
    st.stop()
