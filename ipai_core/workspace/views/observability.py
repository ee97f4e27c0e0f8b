"""Observability: SLOs and their error budgets, connector runs, agent latency, recent errors and
traces — for admins, devops and auditors. Everything is read as the signed-in user; the guarded
views and RLS refuse the rows to anyone else."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from ipai_core.errors import IpaiError
from ipai_core.observability import dashboard
from ipai_core.observability.slo import slo_status
from ipai_core.workspace import identity

OBSERVERS_ONLY = "The Observability page is for admins, devops and auditors."
METRICS_PER_ROW = 4

principal = identity.require_principal()
if not dashboard.can_observe(principal):
    st.error(OBSERVERS_ONLY, icon=":material/lock:")
    st.stop()
lakehouse = identity.get_lakehouse()

st.title("Observability")
st.caption(
    "Service level objectives and their error budgets, runs, latency, errors and traces. "
    "Telemetry is rolled up into Postgres by every process; times are UTC."
)
label, since = st.selectbox("Period", dashboard.windows(), format_func=lambda w: w[0], index=1)

try:
    with lakehouse.session(principal) as s:
        slos = slo_status(s)
        runs = dashboard.connector_runs(s, since)
        volume = dashboard.volume_by_hour(s, since)
        latency = dashboard.agent_latency_by_hour(s, since)
        errors = dashboard.recent_errors(s)
        traces = dashboard.recent_traces(s)
        metric_names = dashboard.metric_names(s)
except IpaiError as exc:
    st.error(f"The telemetry could not be read: {exc}", icon=":material/error:")
    st.stop()

slo_tab, runs_tab, agents_tab, errors_tab, traces_tab, metrics_tab = st.tabs(
    ["SLOs", "Connector runs", "Agents", "Recent errors", "Traces", "Metrics"]
)

with slo_tab:
    if not slos:
        st.info("No SLO is enabled (`public.ipai_slo`).", icon=":material/flag:")
    for row in range(0, len(slos), METRICS_PER_ROW):
        in_row = slos[row : row + METRICS_PER_ROW]
        for column, slo in zip(st.columns(METRICS_PER_ROW), in_row, strict=False):
            column.metric(
                slo.label,
                slo.show(slo.current_value),
                f"{slo.budget_remaining:+.0%} error budget left",
                help=f"{slo.description} Objective {slo.show(slo.objective)} over "
                f"{slo.window}; {'met' if slo.objective_met else 'missed'}.",
                border=True,
            )
    if slos:
        burn = pl.DataFrame(
            {
                "SLO": [s.label for s in slos for _ in range(3)],
                "Period": ["1 hour", "6 hours", "window"] * len(slos),
                "Burn rate": [
                    v for s in slos for v in (s.burn_rate_1h, s.burn_rate_6h, s.burn_rate_window)
                ],
            }
        )
        st.plotly_chart(
            px.bar(burn, x="SLO", y="Burn rate", color="Period", barmode="group").add_hline(
                y=1, line_dash="dot", annotation_text="budget spent exactly over the window"
            ),
            width="stretch",
        )
        st.dataframe(
            pl.DataFrame(
                {
                    "SLO": [s.label for s in slos],
                    "Current": [s.show(s.current_value) for s in slos],
                    "Objective": [s.show(s.objective) for s in slos],
                    "Met": ["yes" if s.objective_met else "no" for s in slos],
                    "Events": [s.events for s in slos],
                    "Bad": [s.bad for s in slos],
                    "Budget left": [f"{s.budget_remaining:.0%}" for s in slos],
                }
            ),
            hide_index=True,
            width="stretch",
        )

with runs_tab:
    if runs.is_empty():
        st.info(f"No finished connector run in the {label.lower()}.", icon=":material/cable:")
    else:
        st.plotly_chart(
            px.scatter(
                runs,
                x="started_at",
                y="duration_s",
                color="connector",
                symbol="status",
                labels={"started_at": "Started", "duration_s": "Duration (s)"},
                title="Run durations",
            ),
            width="stretch",
        )
        rows_chart, bytes_chart = st.columns(2)
        rows_chart.plotly_chart(
            px.bar(volume, x="hour", y="rows_written", color="connector", title="Rows written"),
            width="stretch",
        )
        bytes_chart.plotly_chart(
            px.bar(volume, x="hour", y="bytes_read", color="connector", title="Bytes read"),
            width="stretch",
        )

with agents_tab:
    if latency.is_empty():
        st.info(f"No agent call in the {label.lower()}.", icon=":material/smart_toy:")
    else:
        st.plotly_chart(
            px.line(
                latency,
                x="hour",
                y="p95_ms",
                color="agent",
                markers=True,
                labels={"hour": "Hour", "p95_ms": "p95 latency (ms)"},
                title="Agent latency, p95",
            ).add_hline(y=5000, line_dash="dot", annotation_text="SLO: 5 s"),
            width="stretch",
        )
        st.dataframe(latency, hide_index=True, width="stretch")

with errors_tab:
    if errors.is_empty():
        st.success("No recent error.", icon=":material/check_circle:")
    else:
        st.dataframe(errors, hide_index=True, width="stretch")

with traces_tab:
    if traces.is_empty():
        st.info(
            "No trace recorded yet. Processes started with `ipai` roll their spans up here.",
            icon=":material/timeline:",
        )
    else:
        st.dataframe(traces, hide_index=True, width="stretch")
        chosen = st.selectbox(
            "Trace",
            traces.to_dicts(),
            format_func=lambda t: (
                f"{t['started_at']:%Y-%m-%d %H:%M:%S} · {t['name']} · "
                f"{t['duration_ms']:.0f} ms · {t['status']}"
            ),
        )
        if chosen is not None:
            with lakehouse.session(principal) as s:
                spans = dashboard.trace_spans(s, chosen["trace_id"])
            shown = spans.with_columns(
                (pl.lit("· ").repeat_by(pl.col("depth")).list.join("") + pl.col("name")).alias(
                    "span"
                ),
                (
                    pl.col("started_at") + pl.duration(microseconds=pl.col("duration_ms") * 1000)
                ).alias("ended_at"),
            )
            st.plotly_chart(
                px.timeline(
                    shown,
                    x_start="started_at",
                    x_end="ended_at",
                    y="span",
                    color="status",
                    hover_data=["duration_ms", "status_message"],
                ).update_yaxes(autorange="reversed"),
                width="stretch",
            )
            st.dataframe(
                shown.select("span", "duration_ms", "status", "status_message", "attributes"),
                hide_index=True,
                width="stretch",
            )

with metrics_tab:
    if not metric_names:
        st.info("No metric point recorded yet.", icon=":material/monitoring:")
    else:
        name = st.selectbox("Metric", metric_names)
        with lakehouse.session(principal) as s:
            series = dashboard.metric_series(s, name, since)
        st.plotly_chart(
            px.line(series, x="bucket", y="value", color="labels", markers=True, title=name),
            width="stretch",
        )
