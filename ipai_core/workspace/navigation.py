"""The workspace's navigation beyond its own pages: the apps a user's roles allow, and the admin
pages for admins.

Which apps appear is the registry read as the user, under its RLS (cached a minute per user and
roles); opening one is decided by the database again in `open_app`, so a stale menu never opens
an app. An app page is the app's own entry point, `apps_dir/<slug>/<entry_point>`, under
`/<slug>`.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from ipai_core.apps import registry
from ipai_core.apps.registry import RegisteredApp
from ipai_core.db.principal import Principal
from ipai_core.errors import IpaiError
from ipai_core.workspace import identity

ADMIN_ROLE = "admin"
_log = logging.getLogger(__name__)


@st.cache_data(
    ttl=identity.CACHE_TTL_SECONDS, max_entries=identity.CACHE_MAX_ENTRIES, show_spinner=False
)
def visible_apps(key: identity.CacheKey, _principal: Principal) -> list[RegisteredApp]:
    """The active apps `_principal` may open, by name (`key` is its `identity.cache_key`)."""
    with identity.get_lakehouse().session(_principal) as s:
        return registry.list_apps(s, active_only=True)


def app_pages(principal: Principal) -> list[StreamlitPage]:
    """One page per app the user may open whose entry point exists in this checkout."""
    try:
        apps = visible_apps(identity.cache_key(principal), principal)
    except IpaiError as exc:  # the workspace's own pages stay usable
        _log.warning("apps could not be listed: %s", exc)
        return []
    apps_dir = identity.get_lakehouse().settings.apps_dir
    pages = []
    for app in apps:
        entry = apps_dir / app.slug / app.entry_point
        if not entry.is_file():
            _log.warning("app `%s` is registered but `%s` does not exist", app.slug, entry)
            continue
        pages.append(st.Page(entry, title=app.name, icon=app.icon, url_path=app.slug))
    return pages


def admin_pages(principal: Principal) -> list[StreamlitPage]:
    """The admin section, for admins only (the data behind it is refused to others by RLS)."""
    if ADMIN_ROLE not in principal.roles:
        return []
    return [
        st.Page("views/admin_audit_log.py", title="Audit log", icon=":material/policy:"),
        st.Page("views/admin_app_registry.py", title="App registry", icon=":material/apps:"),
        st.Page("views/admin_feature_flags.py", title="Feature flags", icon=":material/flag:"),
        st.Page("views/admin_users.py", title="Users", icon=":material/group:"),
    ]
