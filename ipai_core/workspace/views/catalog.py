"""Catalog: every lakehouse schema by layer, and its tables and views as you see them."""

from __future__ import annotations

import polars as pl
import streamlit as st

from ipai_core.catalog.objects import CatalogObject, CatalogSchema
from ipai_core.db.principal import Principal
from ipai_core.errors import IpaiError
from ipai_core.workspace import identity

LAYERS = {
    "bronze": ("Bronze", "Raw data as connectors land it, with sync metadata."),
    "silver": ("Silver", "Cleaned, typed and deduplicated entities."),
    "gold": ("Gold", "Business-ready views and metrics; what apps and dashboards read."),
    "platinum": ("Platinum", "AI features and vector embeddings."),
    "control": ("Control plane", "Connectors, runs, apps, agents, semantic models, audit log."),
}
NOT_READABLE = "—"
OBJECT_COLUMNS = {
    "Rows": st.column_config.TextColumn(
        alignment="right", help="Rows you can read; — when you may not read it"
    ),
    "RLS": st.column_config.TextColumn(help="Row-level security on the table"),
    "Policies": st.column_config.NumberColumn(help="Row-level security policies defined"),
}


@st.cache_data(
    ttl=identity.CACHE_TTL_SECONDS, max_entries=identity.CACHE_MAX_ENTRIES, show_spinner=False
)
def load_catalog(key: identity.CacheKey, _principal: Principal) -> identity.CatalogView:
    """The catalog as this user sees it, cached per database, user and roles (`key`)."""
    return identity.read_catalog(key, _principal)


def rows_label(obj: CatalogObject) -> str:
    if obj.row_count is None:
        return NOT_READABLE
    return f"≈ {obj.row_count:,}" if obj.row_count_is_estimate else f"{obj.row_count:,}"


def objects_table(objects: list[CatalogObject]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Name": [obj.name for obj in objects],
            "Kind": [obj.kind for obj in objects],
            "Rows": [rows_label(obj) for obj in objects],
            "RLS": ["on" if obj.rls_enabled else "off" for obj in objects],
            "Policies": [obj.policies for obj in objects],
            "Comment": [obj.comment or "" for obj in objects],
        },
        schema={
            "Name": pl.String,
            "Kind": pl.String,
            "Rows": pl.String,
            "RLS": pl.String,
            "Policies": pl.Int64,
            "Comment": pl.String,
        },
    )


def schemas_table(catalog: identity.CatalogView, schemas: list[CatalogSchema]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Schema": [schema.name for schema in schemas],
            "Objects": [len(catalog.objects_in(schema.name)) for schema in schemas],
            "Description": [schema.comment or "" for schema in schemas],
        },
        schema={"Schema": pl.String, "Objects": pl.Int64, "Description": pl.String},
    )


def layer_section(catalog: identity.CatalogView, layer: str) -> None:
    title, blurb = LAYERS[layer]
    schemas = [schema for schema in catalog.schemas if schema.layer == layer]
    st.markdown(blurb)
    st.dataframe(schemas_table(catalog, schemas), hide_index=True, width="stretch")
    filled = [schema for schema in schemas if catalog.objects_in(schema.name)]
    if not filled:
        st.info(
            f"No tables or views in the {title.lower()} layer yet: connectors and "
            "transformations create them.",
            icon=":material/inventory_2:",
        )
    for schema in filled:
        st.subheader(schema.name, divider="gray")
        st.caption(schema.comment or "No description yet.")
        st.dataframe(
            objects_table(catalog.objects_in(schema.name)),
            hide_index=True,
            width="stretch",
            column_config=OBJECT_COLUMNS,
        )


principal = identity.require_principal()

st.title("Catalog")
st.caption(
    f"Row counts are what your account can read under row-level security; {NOT_READABLE} means "
    "you may not read that object. ≈ marks a planner estimate on very large tables. "
    "Refreshed every minute."
)

try:
    catalog = load_catalog(identity.cache_key(principal), principal)
except IpaiError as exc:
    st.error(f"The catalog could not be read: {exc}", icon=":material/error:")
    st.stop()

if not catalog.schemas:
    st.info("There are no lakehouse schemas yet. Run `ipai migrate` to create them.")
    st.stop()

layers = [layer for layer in LAYERS if any(s.layer == layer for s in catalog.schemas)]
for layer, tab in zip(layers, st.tabs([LAYERS[layer][0] for layer in layers]), strict=True):
    with tab:
        layer_section(catalog, layer)
