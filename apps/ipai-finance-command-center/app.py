"""Finance Command Center: P&L, balance sheet, cash flow, receivables and payables, and the bank
reconciliation helper, for the companies and months picked at the top. Every figure is read from
gold ERP as the signed-in user (`ipai_core.finance`); this page only lays them out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from ipai_core import AccessDenied, AppContext, IpaiError, finance, open_app

SLUG = "ipai-finance-command-center"
ctx = open_app(SLUG)

NO_BOOKS = (
    "There are no finance figures you may see yet. Either the ERP has not been synced (run the "
    "Odoo connector, then `ipai transform run`), or your account is limited to companies without "
    "bookings."
)
FLASH = "finance_flash"
Companies = tuple[int, ...]
KINDS: list[finance.ItemKind] = ["receivable", "payable"]


# -- reads, cached per user (the first argument is ctx.cache_key) ------------------------------


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load_books(key: tuple[object, ...], _ctx: AppContext) -> tuple[pl.DataFrame, list[date]]:
    with _ctx.session() as s:
        return finance.companies(s), finance.months(s)


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load_period(
    key: tuple[object, ...], _ctx: AppContext, companies: Companies, first: date, last: date
) -> dict[str, pl.DataFrame]:
    period = finance.Period(first, last)
    with _ctx.session() as s:
        return {
            "pnl": finance.profit_and_loss(s, period=period, companies=companies),
            "flow": finance.cash_flow(s, period=period, companies=companies),
        }


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load_sheet(
    key: tuple[object, ...], _ctx: AppContext, companies: Companies, at: date
) -> pl.DataFrame:
    with _ctx.session() as s:
        return finance.balance_sheet(s, at=at, companies=companies)


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load_open(
    key: tuple[object, ...], _ctx: AppContext, companies: Companies, kind: finance.ItemKind
) -> dict[str, pl.DataFrame]:
    with _ctx.session() as s:
        return {
            "aging": finance.aging(s, kind=kind, companies=companies),
            "items": finance.open_items(s, kind=kind, companies=companies),
        }


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load_lines(
    key: tuple[object, ...],
    _ctx: AppContext,
    companies: Companies,
    month: date,
    section: finance.Section,
    account_type: str,
) -> pl.DataFrame:
    with _ctx.session() as s:
        return finance.journal_lines(
            s,
            period=finance.Period(month, month),
            companies=companies,
            section=section,
            account_type=account_type,
        )


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load_reconciliation(
    key: tuple[object, ...], _ctx: AppContext, companies: Companies
) -> tuple[finance.Plan, pl.DataFrame]:
    with _ctx.session() as s:
        return finance.propose(s, companies=companies), finance.current_decisions(
            s, companies=companies
        )


@st.cache_data(ttl=60, max_entries=512, show_spinner=False)
def load_explanation(
    key: tuple[object, ...], _ctx: AppContext, _proposal: finance.Proposal, match: tuple[int, ...]
) -> finance.Explanation:
    """One LLM call per user and match (`match` is the line id and the item ids)."""
    provider = finance.provider_for(_ctx.lakehouse.settings, enabled=True)
    return finance.explain(_proposal, provider=provider)


# -- formatting ----------------------------------------------------------------------------------


def money(value: object) -> str:
    return f"{Decimal(str(value or 0)):,.2f}"


def floats(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Decimal columns as floats, for charts only (tables keep the exact values)."""
    return frame.with_columns(pl.col(c).cast(pl.Float64) for c in columns)


def csv_button(label: str, frame: pl.DataFrame, name: str) -> None:
    st.download_button(
        label,
        frame.write_csv(),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
    )


# -- the page ------------------------------------------------------------------------------------

st.title("Finance Command Center")
companies_frame, months = load_books(ctx.cache_key, ctx)
if companies_frame.is_empty() or not months:
    st.info(NO_BOOKS, icon=":material/hourglass_empty:")
    st.stop()

names = {
    int(row["company_id"]): row["company_name"] or f"Company {row['company_id']}"
    for row in companies_frame.to_dicts()
}
pick, start, end = st.columns([2, 1, 1])
chosen = pick.multiselect(
    "Companies", list(names), default=list(names), format_func=lambda c: names[c]
)
first = start.selectbox(
    "From month", months, index=max(0, len(months) - 12), format_func=lambda m: f"{m:%Y-%m}"
)
last = end.selectbox("To month", months, index=len(months) - 1, format_func=lambda m: f"{m:%Y-%m}")
if not chosen:
    st.info("Pick at least one company to see its figures.")
    st.stop()
if last < first:
    st.warning("The period ends before it starts: pick a “To month” on or after the “From month”.")
    st.stop()
companies: Companies = tuple(sorted(chosen))
period = finance.Period(first, last)
scope = f"{period.label()} · {', '.join(names[c] for c in companies)}"
data = load_period(ctx.cache_key, ctx, companies, period.first, period.last)

pnl_tab, sheet_tab, flow_tab, open_tab, recon_tab = st.tabs(
    ["Profit & loss", "Balance sheet", "Cash flow", "Receivables & payables", "Reconciliation"]
)

with pnl_tab:
    pnl = data["pnl"]
    totals = finance.pnl_totals(pnl)
    st.caption(scope)
    income, expenses, net = st.columns(3)
    income.metric("Income", money(totals.income))
    expenses.metric("Expenses", money(totals.expenses))
    net.metric("Net profit", money(totals.net_profit))
    if pnl.is_empty():
        st.info(f"No income or expense was booked for these companies in {period.label()}.")
    else:
        monthly = finance.pnl_by_month(pnl)
        chart = floats(monthly, "income", "expenses", "net_profit")
        figure = go.Figure(
            [
                go.Bar(x=chart["month"], y=chart["income"], name="Income"),
                go.Bar(x=chart["month"], y=chart["expenses"], name="Expenses"),
                go.Scatter(x=chart["month"], y=chart["net_profit"], name="Net profit"),
            ]
        )
        figure.update_layout(barmode="group", margin={"t": 30}, legend={"orientation": "h"})
        st.plotly_chart(figure, width="stretch")
        st.dataframe(finance.pnl_figures(pnl, by_month=False), hide_index=True, width="stretch")
        csv_button("Download the P&L (CSV)", pnl, f"profit-and-loss-{period.label()}")

        st.subheader("Journal lines behind a figure")
        figures = finance.pnl_figures(pnl).to_dicts()
        figure_row = st.selectbox(
            "Figure",
            figures,
            format_func=lambda r: (
                f"{r['month']:%Y-%m} · {r['section']} · {r['account_type']} · {money(r['amount'])}"
            ),
        )
        lines = load_lines(
            ctx.cache_key,
            ctx,
            companies,
            figure_row["month"],
            figure_row["section"],
            figure_row["account_type"],
        )
        st.caption(f"{lines.height} journal lines adding up to {money(lines['amount'].sum())}.")
        st.dataframe(lines, hide_index=True, width="stretch")
        csv_button("Download these lines (CSV)", lines, "journal-lines")

with sheet_tab:
    at = st.date_input("As of", value=period.last, key="balance-at")
    sheet = load_sheet(ctx.cache_key, ctx, companies, at)
    balance = finance.balance_totals(sheet)
    assets, liabilities, equity = st.columns(3)
    assets.metric("Assets", money(balance.assets))
    liabilities.metric("Liabilities", money(balance.liabilities))
    equity.metric("Equity", money(balance.equity))
    if sheet.is_empty():
        st.info(f"Nothing was booked for these companies by {at:%Y-%m-%d}.")
    else:
        if balance.balanced:
            st.success("Assets equal liabilities plus equity (current earnings included).")
        else:
            st.error("Assets do not equal liabilities plus equity: check the ERP sync.")
        st.plotly_chart(
            px.bar(
                floats(sheet, "amount"),
                x="section",
                y="amount",
                color="account_type",
                labels={"amount": "Amount", "section": ""},
            ),
            width="stretch",
        )
        st.dataframe(sheet, hide_index=True, width="stretch")
        csv_button("Download the balance sheet (CSV)", sheet, f"balance-sheet-{at:%Y-%m-%d}")

with flow_tab:
    flow = data["flow"]
    st.caption(scope)
    if flow.is_empty():
        st.info(f"No cash or bank movement for these companies in {period.label()}.")
    else:
        chart = floats(flow, "inflow", "outflow", "closing_balance")
        st.plotly_chart(
            px.bar(
                chart,
                x="month",
                y=["inflow", "outflow"],
                barmode="group",
                labels={"value": "Amount", "variable": ""},
            ),
            width="stretch",
        )
        st.plotly_chart(
            px.line(chart, x="month", y="closing_balance", color="company_name", markers=True),
            width="stretch",
        )
        st.dataframe(flow, hide_index=True, width="stretch")
        csv_button("Download the cash flow (CSV)", flow, f"cash-flow-{period.label()}")

with open_tab:
    kind = st.radio("Show", KINDS, format_func=lambda k: f"{k.title()}s", horizontal=True)
    opened = load_open(ctx.cache_key, ctx, companies, kind)
    aging, items = opened["aging"], opened["items"]
    st.metric(f"Open {kind}s", money(items["open_amount"].sum() if items.height else 0))
    if items.is_empty():
        st.info(f"No open {kind}s for these companies: everything is settled.")
    else:
        buckets = ["not_due", "days_0_30", "days_31_60", "days_61_90", "days_90_plus"]
        totals_by_bucket = floats(aging.select(buckets).fill_null(0), *buckets).sum()
        st.plotly_chart(
            px.bar(
                totals_by_bucket.unpivot(variable_name="bucket", value_name="amount"),
                x="bucket",
                y="amount",
                labels={"bucket": "Days overdue", "amount": "Open amount"},
            ),
            width="stretch",
        )
        st.subheader("Aging by partner")
        st.dataframe(aging, hide_index=True, width="stretch")
        csv_button("Download the aging (CSV)", aging, f"{kind}-aging")
        st.subheader("Open items")
        st.dataframe(items, hide_index=True, width="stretch")
        csv_button("Download the open items (CSV)", items, f"open-{kind}s")

with recon_tab:
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)
    plan, decided = load_reconciliation(ctx.cache_key, ctx, companies)
    may_decide = ctx.has_role("finance")
    if not plan.proposals and not plan.unmatched:
        st.info("Every bank statement line of these companies is reconciled: nothing to match.")
    if plan.proposals:
        st.subheader(f"Proposed matches ({len(plan.proposals)})")
        st.dataframe(finance.proposals_frame(plan), hide_index=True, width="stretch")
        by_line = {p.line.id: p for p in plan.proposals}
        line_id = st.selectbox(
            "Review a match",
            list(by_line),
            format_func=lambda i: (
                f"{by_line[i].line.date:%Y-%m-%d} · {money(by_line[i].line.amount)} · "
                f"{by_line[i].line.text or 'no reference'} → "
                f"{', '.join(x.move_name for x in by_line[i].items)} ({by_line[i].score:.2f})"
            ),
        )
        chosen_match = by_line[line_id]
        st.progress(chosen_match.score, text=f"Score {chosen_match.score:.2f}")
        use_llm = ctx.flag("llm_explanations")
        if use_llm and finance.provider_for(ctx.lakehouse.settings, enabled=True) is not None:
            ids = (chosen_match.line.id, *chosen_match.move_line_ids)
            worded = load_explanation(ctx.cache_key, ctx, chosen_match, ids)
            if worded.source == "llm":
                st.markdown(worded.text)
                st.caption("Explained by the language model from the facts below.")
            elif worded.note:
                st.caption(worded.note)
        elif use_llm:
            st.caption(
                "LLM explanations are on, but no language model is configured "
                "(IPAI_LLM_BASE_URL / IPAI_LLM_API_KEY); these are the rules' reasons."
            )
        st.markdown("\n".join(f"- {reason}" for reason in chosen_match.reasons))
        note = st.text_input("Note (optional)", key="decision-note", disabled=not may_decide)
        accept_col, reject_col = st.columns(2)
        accepted = accept_col.button(
            "Accept match", key="accept", type="primary", disabled=not may_decide
        )
        rejected = reject_col.button("Reject match", key="reject", disabled=not may_decide)
        if not may_decide:
            st.caption("Only finance users can accept or reject matches; you can review them.")
        if accepted or rejected:
            verdict = finance.accept if accepted else finance.reject
            try:
                with ctx.session() as s:
                    verdict(s, chosen_match, reason=note, app=SLUG)
            except AccessDenied:
                st.error("The database refused this decision: you may not reconcile this company.")
            except IpaiError as exc:
                st.warning(str(exc))
            else:
                ctx.log.info("reconciliation %s line=%s", verdict.__name__, line_id)
                done = "Accepted" if accepted else "Rejected"
                st.session_state[FLASH] = f"{done}: {chosen_match.line.text or line_id}."
                load_reconciliation.clear()
                st.rerun()
    if plan.unmatched:
        st.subheader(f"Without a proposal ({len(plan.unmatched)})")
        st.caption("Bank charges, interest and transfers that fit no open invoice or bill.")
        st.dataframe(finance.unmatched_frame(plan), hide_index=True, width="stretch")
    st.subheader("Decisions")
    if decided.is_empty():
        st.caption("No match has been accepted or rejected yet.")
    else:
        st.dataframe(decided, hide_index=True, width="stretch")
        csv_button("Download the decisions (CSV)", decided, "reconciliation-decisions")
