"""Browsing `public.ipai_audit_log`: filters, pages and CSV export, under the reader's RLS.

The log's policies decide what a reader sees: auditors and admins every entry, anyone else only
their own. Actors are shown by e-mail through `public.ipai_audit_actors()`, which answers only
auditors and admins (others see user ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from psycopg import sql

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError

EXPORT_LIMIT = 10_000
MAX_PAGE_SIZE = 1_000


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show; every field left empty matches everything."""

    since: datetime | None = None
    until: datetime | None = None
    event_types: tuple[str, ...] = ()
    actor: str = ""  # part of an e-mail, or a user id
    entity_type: str = ""
    entity_id: str = ""


@dataclass(frozen=True)
class AuditPage:
    """One page of entries (newest first) and how many entries match in all."""

    rows: pl.DataFrame
    total: int
    offset: int
    limit: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


_FROM = sql.SQL(
    "FROM public.ipai_audit_log a LEFT JOIN public.ipai_audit_actors() u ON u.user_id = a.user_id"
)
_COLUMNS = sql.SQL(
    "SELECT a.created_at AS time, a.event_type, a.action, a.entity_type, a.entity_id::text,"
    " coalesce(u.email, a.user_id::text) AS actor, a.actor_role, a.details, a.id::text AS id "
)


def search(s: ScopedSession, where: AuditFilter, *, limit: int = 100, offset: int = 0) -> AuditPage:
    """Entries matching `where`, newest first, `limit` of them from `offset`."""
    if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
        raise ConfigError(
            f"page size must be 1 to {MAX_PAGE_SIZE} and offset at least 0 (got {limit}, {offset})"
        )
    condition, params = _condition(where)
    total = s.scalar(sql.SQL("SELECT count(*) ") + _FROM + condition, params)
    rows = s.query(
        _COLUMNS
        + _FROM
        + condition
        + sql.SQL(" ORDER BY a.created_at DESC, a.id LIMIT %(limit)s OFFSET %(offset)s"),
        {**params, "limit": limit, "offset": offset},
    )
    return AuditPage(rows=rows, total=int(total or 0), offset=offset, limit=limit)


def export_csv(s: ScopedSession, where: AuditFilter, *, limit: int = EXPORT_LIMIT) -> str:
    """The newest `limit` entries matching `where`, as CSV text."""
    condition, params = _condition(where)
    rows = s.query(
        _COLUMNS + _FROM + condition + sql.SQL(" ORDER BY a.created_at DESC, a.id LIMIT %(limit)s"),
        {**params, "limit": limit},
    )
    return rows.write_csv()


def event_types(s: ScopedSession) -> list[str]:
    """The event types present in the entries the reader may see."""
    frame = s.query("SELECT DISTINCT event_type FROM public.ipai_audit_log ORDER BY 1")
    return [str(v) for v in frame["event_type"].to_list()]


def _condition(where: AuditFilter) -> tuple[sql.Composable, dict[str, Any]]:
    clauses: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if where.since is not None:
        clauses.append(sql.SQL("a.created_at >= %(since)s"))
        params["since"] = where.since
    if where.until is not None:
        clauses.append(sql.SQL("a.created_at < %(until)s"))
        params["until"] = where.until
    if where.event_types:
        clauses.append(sql.SQL("a.event_type = ANY(%(event_types)s)"))
        params["event_types"] = list(where.event_types)
    if where.actor.strip():
        clauses.append(sql.SQL("(u.email ILIKE %(actor_like)s OR a.user_id::text = %(actor)s)"))
        params["actor"] = where.actor.strip().lower()
        params["actor_like"] = f"%{_escape_like(where.actor.strip())}%"
    if where.entity_type.strip():
        clauses.append(sql.SQL("a.entity_type = %(entity_type)s"))
        params["entity_type"] = where.entity_type.strip()
    if where.entity_id.strip():
        clauses.append(sql.SQL("a.entity_id::text = %(entity_id)s"))
        params["entity_id"] = where.entity_id.strip().lower()
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
