"""Connectors: what syncs into bronze, its last runs, and — for data engineers — add and run."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from ipai_core.connectors import store
from ipai_core.connectors.registry import known_types
from ipai_core.errors import IpaiError
from ipai_core.sync.engine import run_connector
from ipai_core.workspace import identity

principal = identity.require_principal()
lakehouse = identity.get_lakehouse()

st.title("Connectors")
st.caption("Sources that sync into the bronze layer. You see the connectors your roles allow.")

try:
    with lakehouse.session(principal) as s:
        connectors = store.list_connectors(s)
        latest = store.latest_runs(s)
        operator = store.can_operate(s)
except IpaiError as exc:
    st.error(f"The connectors could not be read: {exc}", icon=":material/error:")
    st.stop()


def overview() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Name": [c.name for c in connectors],
            "Type": [c.connector_type for c in connectors],
            "Schedule": [c.schedule or "manual" for c in connectors],
            "Enabled": ["yes" if c.is_enabled else "no" for c in connectors],
            "Last run": [
                latest[c.name].status if c.name in latest else "never" for c in connectors
            ],
            "Rows written": [
                latest[c.name].rows_written if c.name in latest else 0 for c in connectors
            ],
            "Target": [str(c.config.get("target_schema", "")) for c in connectors],
        }
    )


if not connectors:
    st.info(
        "No connectors you can see yet. Data engineers add them here or with "
        "`ipai connectors add`; analysts and data engineers can see them.",
        icon=":material/cable:",
    )
else:
    st.dataframe(overview(), hide_index=True, width="stretch")
    chosen = st.selectbox("Connector", [c.name for c in connectors])
    record = next(c for c in connectors if c.name == chosen)
    details, history, bad_rows = st.tabs(["Configuration", "Run history", "Quarantine"])
    with details:
        st.json(record.config)
        st.caption(
            "Secrets: "
            + (", ".join(record.vault_secret_refs) or "none")
            + " (vault references, never values)"
        )
    with history:
        with lakehouse.session(principal) as s:
            runs = store.run_history(s, record.name, limit=50)
        if runs:
            st.dataframe(
                pl.DataFrame(
                    {
                        "Started": [r.started_at for r in runs],
                        "Status": [r.status for r in runs],
                        "Read": [r.rows_read for r in runs],
                        "Written": [r.rows_written for r in runs],
                        "By": [r.triggered_by for r in runs],
                        "Error": [r.error_message or "" for r in runs],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
        else:
            st.info("This connector has not run yet.")
    with bad_rows:
        with lakehouse.session(principal) as s:
            quarantined = store.quarantined(s, record.name, limit=200)
        if quarantined:
            st.dataframe(pl.DataFrame(quarantined), hide_index=True, width="stretch")
        else:
            st.success("No quarantined rows.")
    if operator:
        if st.button(f"Run {record.name} now", type="primary", disabled=not record.is_enabled):
            with st.status(f"Running {record.name}…", expanded=True) as status:
                result = run_connector(
                    lakehouse,
                    record.name,
                    triggered_by=f"workspace:{principal.email}",
                    on_progress=lambda streams: status.write(
                        f"{sum(x.rows_read for x in streams.values()):,} rows read"
                    ),
                )
                for name, stats in result.streams.items():
                    st.write(
                        f"{name}: {stats.status} — {stats.rows_written:,} written, "
                        f"{stats.rows_quarantined:,} quarantined"
                    )
                status.update(
                    label=f"Run {result.status} in {result.duration_s:.1f}s",
                    state="complete" if result.ok else "error",
                )
            if not result.ok:
                st.error(result.error or "the run failed")
    else:
        st.caption("Running and adding connectors needs the data_engineer role.")

if operator:
    with st.expander("Add a connector"), st.form("add_connector"):
        name = st.text_input("Name", placeholder="sales-files")
        connector_type = st.selectbox("Type", known_types())
        config_text = st.text_area(
            "Configuration (JSON)",
            value=json.dumps({"target_schema": "ipai_bronze_core"}, indent=2),
            height=180,
        )
        schedule = st.text_input("Schedule (cron, UTC; empty for manual)")
        secrets = st.text_input("Vault secret references (comma separated)")
        if st.form_submit_button("Add"):
            try:
                config = json.loads(config_text)
                with lakehouse.session(principal) as s:  # RLS decides, not this page
                    store.add_connector(
                        s,
                        name=name.strip(),
                        connector_type=connector_type,
                        config=config,
                        schedule=schedule.strip() or None,
                        secret_refs=[x.strip() for x in secrets.split(",") if x.strip()],
                    )
                st.success(f"Connector {name} added.")
            except json.JSONDecodeError as exc:
                st.error(f"The configuration is not valid JSON: {exc.msg} (line {exc.lineno}).")
            except IpaiError as exc:
                st.error(str(exc))
