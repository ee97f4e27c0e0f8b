"""The privileged pieces of the schema (`privileged.sql`: event triggers), applied after the
migrations by a role allowed to create them, or skipped with one warning that names what is lost.

The embedded server applies them with its superuser. Elsewhere they are tried with the configured
role: Supabase's `postgres` may create event triggers where Supabase allows it, a plain
non-superuser owner may not, and then the schema is complete but for DDL auditing and the
re-derivation of agent and BI grants after DDL.
"""

from __future__ import annotations

import re
from importlib import resources

import psycopg

LOST_WITHOUT_EVENT_TRIGGERS = (
    "DDL is not recorded as `schema_change` in the audit log, and agent and BI grants are not "
    "re-derived after DDL (run `ipai agents sync` and `ipai bi sync` after creating views)"
)


def privileged_sql() -> str:
    return resources.files("ipai_core.migrate").joinpath("privileged.sql").read_text()


def event_trigger_names() -> tuple[str, ...]:
    return tuple(re.findall(r"CREATE EVENT TRIGGER (\w+)", privileged_sql()))


def missing_event_triggers(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT evtname FROM pg_event_trigger WHERE evtname = ANY(%s) AND evtenabled <> 'D'",
        [list(event_trigger_names())],
    ).fetchall()
    present = {str(r[0]) for r in rows}
    return [name for name in event_trigger_names() if name not in present]


def apply_privileged(conn: psycopg.Connection) -> str | None:
    """Create what is missing; returns a warning when `conn`'s role may not (nothing applied)."""
    if not missing_event_triggers(conn):
        return None
    try:
        with conn.transaction():
            conn.execute(privileged_sql())  # trusted file shipped with the package
    except psycopg.errors.InsufficientPrivilege:
        role = conn.execute("SELECT current_user").fetchone()
        return (
            f"role `{role[0] if role else '?'}` may not create event triggers, so they were "
            f"skipped: {LOST_WITHOUT_EVENT_TRIGGERS}. To turn them on, run `ipai migrate` once "
            "with IPAI_DATABASE_URL naming a superuser (the rest is already applied)"
        )
    return None
