"""Admin · App registry: every registered app, who may open it, and switching one on or off
(each switch is written to the audit log by the database)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from ipai_core.apps import registry
from ipai_core.errors import IpaiError
from ipai_core.workspace import identity, navigation

principal = identity.require_admin()
lakehouse = identity.get_lakehouse()

st.title("App registry")
st.caption(
    "Apps are folders under `apps/` registered with `ipai apps register`. A switched-off app "
    "disappears from everyone's menu and the database refuses to open it."
)

try:
    with lakehouse.session(principal) as s:
        apps = registry.list_apps(s)
except IpaiError as exc:
    st.error(f"The registry could not be read: {exc}", icon=":material/error:")
    st.stop()

if not apps:
    st.info(
        "No apps are registered yet. Register the apps of this checkout with "
        "`ipai apps register --all` (`ipai up` does it too).",
        icon=":material/apps:",
    )
    st.stop()

st.dataframe(
    pl.DataFrame(
        {
            "Name": [a.name for a in apps],
            "Slug": [a.slug for a in apps],
            "Roles": [", ".join(a.required_roles) or "any signed-in user" for a in apps],
            "Active": ["on" if a.is_active else "off" for a in apps],
            "Flags": [len(a.flags) for a in apps],
            "Description": [a.description for a in apps],
        }
    ),
    hide_index=True,
    width="stretch",
)

by_slug = {a.slug: a for a in apps}
slug = st.selectbox("App", list(by_slug), format_func=lambda s: by_slug[s].name, key="registry_app")
chosen = by_slug[slug]
label = "Switch off" if chosen.is_active else "Switch on"
if st.button(label, key="registry_toggle", type="primary" if not chosen.is_active else "secondary"):
    try:
        with lakehouse.session(principal) as s:
            registry.set_active(s, chosen.slug, not chosen.is_active)
    except IpaiError as exc:
        st.error(f"{chosen.name} could not be changed: {exc}", icon=":material/error:")
    else:
        navigation.visible_apps.clear()  # menus show the change at once
        st.toast(f"{chosen.name} is now {'off' if chosen.is_active else 'on'}.")
        st.rerun()
