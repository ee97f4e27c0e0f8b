"""Home: who you are, what the catalog holds for you, and which database the workspace uses."""

from __future__ import annotations

import streamlit as st

from ipai_core.db.principal import Principal
from ipai_core.errors import IpaiError
from ipai_core.workspace import identity


@st.cache_data(
    ttl=identity.CACHE_TTL_SECONDS, max_entries=identity.CACHE_MAX_ENTRIES, show_spinner=False
)
def load_catalog(key: identity.CacheKey, _principal: Principal) -> identity.CatalogView:
    """The catalog as this user sees it, cached per database, user and roles (`key`)."""
    return identity.read_catalog(key, _principal)


principal = identity.require_principal()

st.title("Welcome to IPAI Databricks")
st.caption(
    "A lakehouse on PostgreSQL: bronze, silver, gold and platinum schemas, where every read runs "
    "under your own grants and row-level security."
)

you, catalog_column = st.columns([2, 3], gap="large")
with you:
    st.subheader("You")
    st.caption("Email")
    st.text(principal.email or "(not in your token)")
    st.caption("User id")
    st.text(principal.user_id or "")
    st.caption("Roles")
    st.text(", ".join(principal.roles) or "None yet: an admin grants them with ipai users grant.")

with catalog_column:
    st.subheader("Your catalog")
    try:
        catalog = load_catalog(identity.cache_key(principal), principal)
    except IpaiError as exc:
        st.error(f"The catalog could not be read: {exc}", icon=":material/error:")
    else:
        schemas, objects, readable = st.columns(3)
        schemas.metric("Schemas", len(catalog.schemas))
        objects.metric("Tables and views", len(catalog.objects))
        readable.metric("Readable by you", catalog.readable)
        if not catalog.objects:
            st.info("The catalog is empty: no tables or views exist yet.")
        st.page_link("views/catalog.py", label="Browse the catalog", icon=":material/table_view:")

st.divider()
st.caption(f"Database: `{identity.database_location()}`")
