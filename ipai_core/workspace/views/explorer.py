"""Explorer: query files in the blob store with DuckDB (read-only), then turn what you found
into a file connector."""

from __future__ import annotations

import streamlit as st

from ipai_core.connectors import store
from ipai_core.errors import IpaiError
from ipai_core.explore import check_access, explore, file_connector_draft
from ipai_core.storage.locate import default_blob_store
from ipai_core.workspace import identity

principal = identity.require_principal()
lakehouse = identity.get_lakehouse()
blobs = default_blob_store(lakehouse.settings)

st.title("Explorer")
st.caption(
    f"Files in {blobs.describe()}: archived source files under `archive/<connector>/`, "
    "landing files elsewhere. Queries are read-only and see only the files you pick."
)

pattern = st.text_input("Files", placeholder="landing/sales/*.csv or archive/my-connector/**/*.csv")
query = st.text_area("SQL over the table `data`", value="SELECT * FROM data", height=90)

if pattern:
    try:
        with lakehouse.session(principal) as s:
            check_access(s, pattern)  # Postgres answers, as this user
        result = explore(blobs, pattern, query, limit=500)
    except IpaiError as exc:
        st.error(str(exc))
        st.stop()
    st.caption(
        f"{len(result.files)} file(s), {result.rows_loaded:,} rows loaded"
        + (" — only the first rows were loaded" if result.truncated else "")
    )
    st.dataframe(result.frame, hide_index=True, width="stretch")

    with lakehouse.session(principal) as s:
        operator = store.can_operate(s)
    if operator:
        with st.expander("Create a file connector from these files"), st.form("draft"):
            stream = st.text_input("Stream / bronze table name", placeholder="sales")
            key = st.multiselect(
                "Primary key", [c for c in result.frame.columns if c != "filename"]
            )
            schema = st.text_input("Target schema", value="ipai_bronze_core")
            if st.form_submit_button("Create connector"):
                try:
                    draft = file_connector_draft(
                        blobs,
                        pattern,
                        stream=stream.strip(),
                        primary_key=key,
                        target_schema=schema.strip(),
                    )
                    with lakehouse.session(principal) as s:
                        store.add_connector(
                            s,
                            name=stream.strip().replace("_", "-"),
                            connector_type="file",
                            config=draft,
                        )
                    st.success("Connector created; run it from the Connectors page.")
                except IpaiError as exc:
                    st.error(str(exc))
else:
    st.info("Type a file pattern to preview it.", icon=":material/search:")
