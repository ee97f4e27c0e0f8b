"""DevOps Health: Spec Kit coverage, CI status, deployments and the four DORA metrics, per
repository and week by week. Every figure is read from the gold DevOps views as the signed-in
user; this page only lays them out."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from ipai_core import AppContext, devops_health, open_app

ctx = open_app("ipai-devops-health")

LEVEL_BADGES = {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}
CI_BADGES = {"success": "green", "failure": "red", "timed_out": "red", "cancelled": "gray"}


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load(key: tuple[object, ...], _ctx: AppContext) -> dict[str, pl.DataFrame]:
    """Every frame the page shows, read in one transaction as the user (`key` is the user's)."""
    with _ctx.session() as s:
        return {
            "summary": devops_health.dora_summary(s),
            "weekly": devops_health.dora_weekly(s),
            "ci_status": devops_health.ci_status(s),
            "ci_weekly": devops_health.ci_weekly(s),
            "deployments": devops_health.deployments_weekly(s),
            "spec": devops_health.spec_kit_coverage(s),
        }


def badge(value: object, colours: dict[str, str]) -> str:
    text = str(value) if value is not None else "n/a"
    return f":{colours.get(text, 'gray')}-badge[{text}]"


def level_card(
    column: st.delta_generator.DeltaGenerator, label: str, value: str, level: object
) -> None:
    column.metric(label, value)
    column.markdown(badge(level, LEVEL_BADGES))


def number(value: object, unit: str, digits: int = 1) -> str:
    return "n/a" if value is None else f"{float(str(value)):,.{digits}f} {unit}".strip()


def percent(value: object) -> str:
    return "n/a" if value is None else f"{float(str(value)):.1%}"


st.title("DevOps Health")
data = load(ctx.cache_key, ctx)
summary = data["summary"]
if summary.is_empty():
    st.info(
        "No repository data yet. Once the GitHub connector has synced (Connectors page, or "
        "`ipai connectors run <name>`) and the gold views are refreshed, the figures appear here.",
        icon=":material/hourglass_empty:",
    )
    st.stop()

repos = summary["repository"].to_list()
chosen = st.multiselect("Repositories", repos, default=repos, placeholder="Pick repositories")
if not chosen:
    st.info("Pick at least one repository to see its figures.")
    st.stop()


def only(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("repository").is_in(chosen))


dora_tab, ci_tab, deploy_tab, spec_tab = st.tabs(
    ["DORA metrics", "CI status", "Deployments", "Spec Kit coverage"]
)

with dora_tab:
    for row in only(summary).to_dicts():
        st.subheader(row["repository"])
        freq, lead, failure, restore = st.columns(4)
        level_card(
            freq,
            "Deployment frequency",
            number(row["deployments_per_week"], "/ week", 2),
            row["deployment_frequency_level"],
        )
        level_card(
            lead,
            "Lead time for changes",
            number(row["median_lead_time_hours"], "h"),
            row["lead_time_level"],
        )
        level_card(
            failure,
            "Change failure rate",
            percent(row["change_failure_rate"]),
            row["change_failure_level"],
        )
        level_card(
            restore,
            "Time to restore",
            number(row["median_time_to_restore_hours"], "h"),
            row["restore_level"],
        )
    weekly = only(data["weekly"])
    st.subheader("Over time")
    titles = {
        "deployments": "Deployments per week",
        "change_failure_rate": "Change failure rate",
        "median_lead_time_hours": "Median lead time (h)",
        "median_time_to_restore_hours": "Median time to restore (h)",
    }
    picked = st.segmented_control(
        "Metric", list(titles), format_func=titles.__getitem__, default="deployments"
    )
    column = picked or "deployments"
    title = titles[column]
    st.plotly_chart(
        px.line(
            weekly, x="week", y=column, color="repository", markers=True, labels={column: title}
        ),
        width="stretch",
    )

with ci_tab:
    status = only(data["ci_status"])
    for row in status.to_dicts():
        st.markdown(
            f"**{row['repository']}** on `{row['default_branch']}`: "
            f"{badge(row['last_conclusion'], CI_BADGES)} run #{row['last_run_number']} · "
            f"{row['failures_last_7_days']} of {row['runs_last_7_days']} runs failed "
            "in the 7 days before it"
        )
    ci = only(data["ci_weekly"])
    st.plotly_chart(
        px.line(
            ci,
            x="week",
            y="success_rate",
            color="repository",
            markers=True,
            labels={"success_rate": "CI success rate"},
        ),
        width="stretch",
    )
    st.dataframe(ci, hide_index=True, width="stretch")

with deploy_tab:
    deployments = only(data["deployments"])
    environment = st.selectbox("Environment", sorted(set(deployments["environment"].to_list())))
    shown = deployments.filter(pl.col("environment") == environment)
    st.plotly_chart(
        px.bar(
            shown, x="week", y=["successful", "failed"], barmode="stack", facet_row="repository"
        ),
        width="stretch",
    )
    st.dataframe(shown, hide_index=True, width="stretch")

with spec_tab:
    spec = only(data["spec"])
    per_repo = only(summary).select("repository", "spec_kit_coverage")
    cols = st.columns(max(1, per_repo.height))
    for col, row in zip(cols, per_repo.to_dicts(), strict=False):
        col.metric(row["repository"], percent(row["spec_kit_coverage"]))
    st.dataframe(
        spec,
        hide_index=True,
        width="stretch",
        column_config={
            "coverage": st.column_config.ProgressColumn("Coverage", min_value=0, max_value=1)
        },
    )
