"""Genie: ask a question in English, get a table, a suggested chart and the SQL that produced it.

Every answer is computed by `ipai_core`'s Genie as the signed-in user (their RLS), so two people
asking the same question may rightly see different numbers. This page keeps the conversation and
lays the answers out."""

from __future__ import annotations

import uuid

import plotly.express as px
import streamlit as st

from ipai_core import AppContext, Genie, GenieAnswer, Lakehouse, open_app

ctx = open_app("ipai-genie")

EXAMPLES = (
    "What was our net profit by month this year?",
    "Top 5 customers by open receivables",
    "Deployments per week by repository",
    "Revenue by store last quarter",
)
STATUS_ICONS = {
    "clarify": ":material/help:",
    "refused": ":material/block:",
    "error": ":material/error:",
}


@st.cache_resource(show_spinner=False)
def genie_for(_lakehouse: Lakehouse, database: str) -> Genie:
    """One Genie per process and database (it holds no user state: each call names its user)."""
    return Genie(_lakehouse)


def history(context: AppContext) -> list[GenieAnswer]:
    """This user's conversation, kept for the browser session (keyed by user, so a sign-out and
    a sign-in as somebody else starts afresh)."""
    key = f"genie_history:{context.principal.user_id}"
    if key not in st.session_state:
        st.session_state[key] = []
    conversation: list[GenieAnswer] = st.session_state[key]
    return conversation


def show_chart(answer: GenieAnswer) -> None:
    frame, chart = answer.frame, answer.chart
    if frame is None or frame.is_empty() or chart is None or chart.kind == "table":
        return
    if chart.kind == "number" and chart.y:
        st.metric(chart.y.replace("_", " ").capitalize(), f"{frame[chart.y][0]:,}")
        return
    draw = px.line if chart.kind == "line" else px.bar
    st.plotly_chart(
        draw(
            frame,
            x=chart.x,
            y=chart.y,
            color=chart.color,
            **({"markers": True} if chart.kind == "line" else {}),
        ),
        width="stretch",
    )


def assumed(answer: GenieAnswer) -> str:
    """The "what I assumed" line every answer carries: defaults, spellings read, empty periods."""
    if not answer.notes:
        return "What I assumed: nothing beyond your question — every part of it was used."
    return "What I assumed: " + "; ".join(answer.notes) + "."


def show(answer: GenieAnswer, index: int) -> None:
    with st.chat_message("user"):
        st.text(answer.question)
    with st.chat_message("assistant"):
        if answer.status != "answer":
            icon = STATUS_ICONS.get(answer.status, ":material/info:")
            st.info(answer.clarification or answer.explanation, icon=icon)
            for n, option in enumerate(answer.options):  # each option is a question to ask
                if st.button(option, key=f"option-{index}-{n}"):
                    st.session_state["genie_pending"] = option
                    st.rerun()
            return
        st.markdown(answer.explanation)
        st.caption(assumed(answer))
        show_chart(answer)
        if answer.frame is not None and not answer.frame.is_empty():
            st.dataframe(answer.frame, hide_index=True, width="stretch")
        elif answer.frame is not None:
            st.caption("No rows: nothing matches, or nothing you may see matches.")
        with st.expander("SQL", icon=":material/code:"):
            st.code(answer.sql or "", language="sql")
            if answer.params:
                st.caption(f"Parameters: {answer.params}")
        st.caption(f"{answer.planner} planner · {answer.latency_ms} ms")


st.title("Genie")
st.caption(
    "Ask about finance, DevOps or retail data in plain English. Answers use only what your "
    "account may see; the SQL behind each one is shown."
)
genie = genie_for(ctx.lakehouse, ctx.cache_key[0])
conversation = history(ctx)
session_id = st.session_state.setdefault("genie_session", uuid.uuid4().hex)

if not conversation:
    st.markdown("**Try one of these:**")
    for n, example in enumerate(EXAMPLES):
        if st.button(example, key=f"example-{n}"):
            st.session_state["genie_pending"] = example
            st.rerun()

for index, past in enumerate(conversation):
    show(past, index)

free_sql = ctx.flag("free_sql") and st.toggle("SQL mode", help="Run your own read-only SELECT")
typed = st.chat_input("Write a SELECT over the gold views" if free_sql else "Ask a question")
question = typed or st.session_state.pop("genie_pending", None)
if question:
    with st.spinner("Thinking…"):
        if free_sql and typed:
            answer = genie.run_sql(ctx.principal, question)
        else:
            answer = genie.ask(ctx.principal, question, session_id=session_id)
    ctx.log.info("genie answer", extra={"status": answer.status, "dataset": answer.dataset})
    conversation.append(answer)
    show(answer, len(conversation) - 1)
