"""Admin · Feature flags: the flags each app declares, the overrides per role, and setting or
removing one (each change is written to the audit log by the database)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from ipai_core.apps import flags, registry
from ipai_core.errors import IpaiError
from ipai_core.workspace import identity

EVERYONE = "everyone"

principal = identity.require_admin()
lakehouse = identity.get_lakehouse()

st.title("Feature flags")
st.caption(
    "An app declares its flags and their defaults in its `app.toml`. An override here applies "
    "to one role, or to everyone: a user's own roles win (on if any of their rows is on), then "
    "the row for everyone, then the default."
)

try:
    with lakehouse.session(principal) as s:
        apps = [a for a in registry.list_apps(s) if a.flags]
except IpaiError as exc:
    st.error(f"The registry could not be read: {exc}", icon=":material/error:")
    st.stop()

if not apps:
    st.info("No registered app declares a feature flag.", icon=":material/flag:")
    st.stop()

by_slug = {a.slug: a for a in apps}
slug = st.selectbox("App", list(by_slug), format_func=lambda s: by_slug[s].name, key="flags_app")
app = by_slug[slug]
with lakehouse.session(principal) as s:
    rows = flags.read_rows(s, app.slug)

st.subheader("Declared flags")
st.dataframe(
    pl.DataFrame(
        {
            "Flag": list(app.flags),
            "Default": ["on" if spec.get("default") else "off" for spec in app.flags.values()],
            "Description": [str(spec.get("description") or "") for spec in app.flags.values()],
        }
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Overrides")
if rows:
    st.dataframe(
        pl.DataFrame(
            {
                "Flag": [r.flag for r in rows],
                "Role": [r.role or EVERYONE for r in rows],
                "Value": ["on" if r.enabled else "off" for r in rows],
                "Note": [r.description for r in rows],
                "Set at": [r.updated_at for r in rows],
            }
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No overrides: every user gets each flag's default.", icon=":material/flag:")

with st.form("set_flag"):
    st.markdown("**Set an override**")
    flag_column, role_column, value_column = st.columns(3)
    flag = flag_column.selectbox("Flag", list(app.flags), key="flag_name")
    role = role_column.text_input(
        "Role", placeholder="empty: everyone", help="e.g. finance", key="flag_role"
    )
    enabled = value_column.toggle("On", key="flag_on")
    note = st.text_input("Note", placeholder="why (optional)", key="flag_note")
    if st.form_submit_button("Save", type="primary", key="flag_save"):
        try:
            with lakehouse.session(principal) as s:
                flags.set_flag(
                    s, app.slug, flag, role=role.strip() or None, enabled=enabled, description=note
                )
        except IpaiError as exc:
            st.error(f"The flag could not be set: {exc}", icon=":material/error:")
        else:
            st.rerun()

if rows:
    labels = {f"{r.flag} · {r.role or EVERYONE}": r for r in rows}
    chosen = st.selectbox("Override to remove", list(labels), key="flags_remove")
    if st.button("Remove override", key="flags_remove_button"):
        row = labels[chosen]
        with lakehouse.session(principal) as s:
            flags.clear_flag(s, app.slug, row.flag, role=row.role)
        st.rerun()
