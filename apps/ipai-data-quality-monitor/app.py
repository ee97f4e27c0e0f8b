"""Data Quality Monitor: the latest result of every check (failing first), the alerts firing now,
and each check's results over time. Data engineers can run the checks now (an audited action);
everything is read as the signed-in user, and the queries live in `ipai_core.quality.board`."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from ipai_core import AccessDenied, AppContext, data_quality, open_app

ctx = open_app("ipai-data-quality-monitor")

COLOURS = {
    "fail": "#f8d7da",
    "error": "#fde2c8",
    "warn": "#fff3cd",
    "never run": "#e9ecef",
    "pass": "#d1e7dd",
}
MARKERS = {"fail": "#d62728", "error": "#ff7f0e", "warn": "#e5b800", "pass": "#2ca02c"}
LABELS = {
    "fail": "Failing",
    "error": "Cannot run",
    "warn": "Warnings",
    "never run": "Never run",
    "pass": "Passing",
}


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load(key: tuple[object, ...], _ctx: AppContext) -> dict[str, pl.DataFrame]:
    """The board and the firing alerts, read in one transaction as the user (`key`: theirs)."""
    with _ctx.session() as s:
        return {"board": data_quality.status_board(s), "alerts": data_quality.firing_alerts(s)}


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def history(key: tuple[object, ...], _ctx: AppContext, check: str) -> pl.DataFrame:
    with _ctx.session() as s:
        return data_quality.result_history(s, check)


def coloured(frame: pl.DataFrame) -> object:
    """The board with each status cell in its colour."""
    return frame.to_pandas().style.map(
        lambda status: f"background-color: {COLOURS.get(status, '')}", subset=["status"]
    )


st.title("Data Quality Monitor")

if ctx.has_role("data_engineer") and st.button(
    "Run checks now", icon=":material/play_arrow:", help="Runs every enabled check; audited."
):
    ctx.audit_action("run_checks", target_type="dq_check", details={"checks": "all enabled"})
    try:
        with st.spinner("Running the checks …"):
            outcomes = data_quality.run_checks_now(ctx.lakehouse, ctx.principal)
    except AccessDenied:
        st.error("The database refused to run the checks for you: it needs the data_engineer role.")
    else:
        failing = sum(o.status in ("fail", "error") for o in outcomes)
        st.success(f"{len(outcomes)} check(s) run, {failing} failing.")
        load.clear()
        history.clear()

data = load(ctx.cache_key, ctx)
board, alerts = data["board"], data["alerts"]
if board.is_empty():
    st.info(
        "No data quality checks yet. Define one with `ipai quality add NAME --target "
        'schema.table --kind unique --params \'{"columns": ["id"]}\'`; the demo adds a default '
        "set when it loads.",
        icon=":material/playlist_add:",
    )
    st.stop()

counts = data_quality.status_counts(board)
for column, status in zip(st.columns(len(LABELS)), LABELS, strict=True):
    column.metric(LABELS[status], counts[status])

st.subheader("Firing alerts")
if alerts.is_empty():
    st.success("No alert is firing.", icon=":material/notifications_off:")
else:
    st.dataframe(alerts, hide_index=True, width="stretch")

st.subheader("Status board")
st.caption("The latest result of every enabled check; failing checks first.")
st.dataframe(coloured(board), hide_index=True, width="stretch")

st.subheader("History")
check = st.selectbox("Check", board["check"].to_list())
if check:
    results = history(ctx.cache_key, ctx, check)
    if results.is_empty():
        st.info("This check has not run yet.")
    else:
        figure = px.scatter(
            results,
            x="started_at",
            y="value",
            color="status",
            color_discrete_map=MARKERS,
            hover_data=["message", "trigger"],
            labels={"started_at": "Checked at", "value": "Observed value"},
        )
        figure.add_scatter(
            x=results["started_at"].to_list(),
            y=results["value"].to_list(),
            mode="lines",
            line={"color": "#adb5bd"},
            showlegend=False,
            hoverinfo="skip",
        )
        st.plotly_chart(figure, width="stretch")
        st.dataframe(results.reverse(), hide_index=True, width="stretch")
