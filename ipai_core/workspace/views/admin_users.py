"""Admin · Users: every local user with roles, company scope and status; changing roles and
companies, signing a user out everywhere and deleting one. Each change is audited by the
database with the admin's id, and applies from the user's next request on."""

from __future__ import annotations

import polars as pl
import streamlit as st

from ipai_core.auth import users
from ipai_core.errors import IpaiError
from ipai_core.workspace import identity

EVERY_COMPANY = "every company their roles allow"

principal = identity.require_admin()
db = identity.get_lakehouse().db

st.title("Users")
st.caption(
    "Roles decide what a user may open and read; a company scope limits their finance data to "
    "some ERP companies (no scope: every company their roles allow). Changes apply at the "
    "user's next request, not when their token expires."
)

try:
    records = users.list_users(db, actor=principal)
    companies = {c.id: c.name for c in users.list_companies(db)}
except IpaiError as exc:
    st.error(f"The users could not be read: {exc}", icon=":material/error:")
    st.stop()


def company_label(company_id: int) -> str:
    return f"{company_id} · {companies.get(company_id, 'unknown')}"


def scope_label(ids: tuple[int, ...] | None) -> str:
    return EVERY_COMPANY if ids is None else ", ".join(company_label(i) for i in ids)


def done(message: str) -> None:
    st.toast(message)
    st.rerun()


st.dataframe(
    pl.DataFrame(
        {
            "Email": [r.email for r in records],
            "Roles": [", ".join(r.roles) or "none" for r in records],
            "Companies": [scope_label(r.company_ids) for r in records],
            "Password": ["local" if r.has_password else "none" for r in records],
            "Last sign-in": [r.last_sign_in_at for r in records],
            "Status": ["active" if r.active else "disabled" for r in records],
        },
        schema_overrides={"Last sign-in": pl.Datetime("us", "UTC")},
    ),
    hide_index=True,
    width="stretch",
)
if not records:
    st.info("No users yet: create one with `ipai users add EMAIL --role ROLE`.")
    st.stop()

by_email = {r.email: r for r in records}
email = st.selectbox("User", list(by_email), key="users_user")
user = by_email[email]
yourself = user.id == principal.user_id

roles_column, companies_column = st.columns(2)
with roles_column.form("users_roles"):
    st.markdown("**Roles**")
    roles = st.multiselect(
        "Roles",
        sorted({*users.KNOWN_ROLES, *user.roles}),
        default=list(user.roles),
        key="users_roles_pick",
        label_visibility="collapsed",
    )
    if st.form_submit_button("Save roles", type="primary", key="users_roles_save"):
        try:
            changed = users.set_roles(db, user.email, roles, actor=principal)
        except IpaiError as exc:
            st.error(f"The roles were not changed: {exc}", icon=":material/error:")
        else:
            done(f"{changed.email} now has roles: {', '.join(changed.roles) or 'none'}")

with companies_column.form("users_companies"):
    st.markdown("**Companies**")
    picked = st.multiselect(
        "Companies",
        sorted({*companies, *(user.company_ids or ())}),
        default=list(user.company_ids or ()),
        format_func=company_label,
        key="users_companies_pick",
        placeholder=EVERY_COMPANY,
        label_visibility="collapsed",
    )
    if st.form_submit_button("Save companies", type="primary", key="users_companies_save"):
        try:
            changed = users.set_companies(db, user.email, picked, actor=principal)
        except IpaiError as exc:
            st.error(f"The companies were not changed: {exc}", icon=":material/error:")
        else:
            done(f"{changed.email} now sees: {scope_label(changed.company_ids)}")
    if st.form_submit_button(
        "Lift the scope (every company)",
        disabled=user.company_ids is None,
        key="users_companies_lift",
    ):
        try:
            changed = users.revoke_companies(db, user.email, None, actor=principal)
        except IpaiError as exc:
            st.error(f"The scope was not lifted: {exc}", icon=":material/error:")
        else:
            done(f"{changed.email} now sees: {scope_label(changed.company_ids)}")

st.subheader("Sessions and account")
sign_out_column, delete_column = st.columns(2)
with sign_out_column:
    st.caption("Ends every session of this user now: they must sign in again.")
    if st.button("Sign out everywhere", key="users_sign_out"):
        try:
            users.end_sessions(db, user.email, actor=principal)
        except IpaiError as exc:
            st.error(f"The sessions were not ended: {exc}", icon=":material/error:")
        else:
            done(f"Every session of {user.email} has ended.")
with delete_column:
    st.caption("Deletes the account, its password and company scope; its tokens stop working.")
    confirmed = st.checkbox(
        f"Yes, delete {user.email}", key="users_delete_confirm", disabled=yourself
    )
    if st.button(
        "Delete user", type="primary", disabled=yourself or not confirmed, key="users_delete"
    ):
        try:
            users.delete_user(db, user.email, actor=principal)
        except IpaiError as exc:
            st.error(f"{user.email} was not deleted: {exc}", icon=":material/error:")
        else:
            st.session_state.pop("users_user", None)
            done(f"Deleted {user.email}.")
    if yourself:
        st.caption("You cannot delete your own account here.")
