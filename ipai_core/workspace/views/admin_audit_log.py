"""Admin · Audit log: the append-only audit log, filtered by time, event type, actor and entity,
a page at a time, with a CSV export of everything the filters match."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from ipai_core.errors import IpaiError
from ipai_core.governance import audit_log
from ipai_core.workspace import identity

PAGE_KEY = "audit_page"
PAGE_SIZES = (50, 100, 500)

principal = identity.require_admin()
lakehouse = identity.get_lakehouse()

st.title("Audit log")
st.caption(
    "Every connector run, sign-in, app action, registry change, schema change and service-role "
    "session, newest first. Nobody can change or delete an entry. Times are UTC."
)

try:
    with lakehouse.session(principal) as s:
        known_types = audit_log.event_types(s)
except IpaiError as exc:
    st.error(f"The audit log could not be read: {exc}", icon=":material/error:")
    st.stop()

today = datetime.now(UTC).date()
when, kinds, who = st.columns(3)
period = when.date_input("Between", value=(today - timedelta(days=7), today), key="audit_period")
event_types = kinds.multiselect("Event types", known_types, key="audit_types")
actor = who.text_input("Actor", key="audit_actor", placeholder="part of an e-mail, or a user id")
entity, entity_id_column, size_column = st.columns(3)
entity_type = entity.text_input("Entity type", key="audit_entity", placeholder="e.g. connector")
entity_id = entity_id_column.text_input("Entity id", key="audit_entity_id", placeholder="a UUID")
page_size = size_column.selectbox("Entries per page", PAGE_SIZES, index=1, key="audit_size")

days: tuple[date, ...] = tuple(period) if isinstance(period, tuple) else (period,)
where = audit_log.AuditFilter(
    since=datetime.combine(days[0], time.min, tzinfo=UTC) if days else None,
    until=datetime.combine(days[-1] + timedelta(days=1), time.min, tzinfo=UTC) if days else None,
    event_types=tuple(event_types),
    actor=actor,
    entity_type=entity_type,
    entity_id=entity_id,
)

page_number = int(st.session_state.get(PAGE_KEY, 1))
try:
    with lakehouse.session(principal) as s:
        result = audit_log.search(s, where, limit=page_size, offset=(page_number - 1) * page_size)
        if page_number > result.pages:  # the filters narrowed: back to the first page
            page_number = 1
            st.session_state[PAGE_KEY] = 1
            result = audit_log.search(s, where, limit=page_size, offset=0)
except IpaiError as exc:
    st.error(f"The audit log could not be read: {exc}", icon=":material/error:")
    st.stop()

if result.total == 0:
    st.info(
        "No entries match these filters. Widen the dates or clear a filter.",
        icon=":material/filter_alt_off:",
    )
    st.stop()

st.caption(f"{result.total:,} entries match · page {page_number} of {result.pages}")
st.dataframe(
    result.rows.drop("id"),
    hide_index=True,
    width="stretch",
    column_config={
        "time": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "event_type": "Event",
        "action": "Action",
        "entity_type": "Entity",
        "entity_id": "Entity id",
        "actor": st.column_config.TextColumn("Actor", help="E-mail or user id; empty: a service"),
        "actor_role": "As",
        "details": "Details",
    },
)
pager, export = st.columns([1, 3])
pager.number_input("Page", min_value=1, max_value=result.pages, step=1, key=PAGE_KEY)


def _csv() -> str:
    with lakehouse.session(principal) as s:
        return audit_log.export_csv(s, where)


export.download_button(
    f"Download CSV (up to {audit_log.EXPORT_LIMIT:,} entries)",
    data=_csv,
    file_name="ipai_audit_log.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)
