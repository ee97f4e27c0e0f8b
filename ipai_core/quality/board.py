"""What the Data Quality Monitor shows, read in the caller's session (under the user's RLS:
data engineers and auditors see checks and results; alerts also need one of their roles).

    with ctx.session() as s:
        board = status_board(s)          # latest result per check, failing first
        trend = result_history(s, name)  # one check's results over time
        alerts = firing_alerts(s)
    outcomes = run_checks_now(ctx.lakehouse, ctx.principal)   # data engineers only
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.lakehouse import Lakehouse
from ipai_core.quality.runner import CheckOutcome, run_requested

STATUSES = ("fail", "error", "warn", "never run", "pass")

_BOARD = """
SELECT c.name AS check, c.target, c.kind, c.severity,
       coalesce(r.status, 'never run') AS status, r.message, r.started_at AS checked_at,
       r.trigger, c.schedule, c.description
  FROM public.ipai_dq_check c
  LEFT JOIN LATERAL (SELECT status, message, started_at, trigger FROM public.ipai_dq_result
                      WHERE check_id = c.id ORDER BY started_at DESC LIMIT 1) r ON true
 WHERE c.enabled
 ORDER BY array_position(%s::text[], coalesce(r.status, 'never run')), c.name
"""

_HISTORY = """
SELECT r.started_at, r.status,
       CASE WHEN jsonb_typeof(r.observed -> 'value') = 'number'
            THEN (r.observed ->> 'value')::float8 END AS value,
       r.message, r.trigger
  FROM public.ipai_dq_result r JOIN public.ipai_dq_check c ON c.id = r.check_id
 WHERE c.name = %s
 ORDER BY r.started_at DESC LIMIT %s
"""

_FIRING = """
SELECT key, severity, summary, occurrences, first_fired_at, last_seen_at
  FROM public.ipai_alert WHERE state = 'firing'
 ORDER BY severity = 'error' DESC, first_fired_at
"""


def status_board(s: ScopedSession) -> pl.DataFrame:
    """One row per enabled check with its latest result: failures, errors and warnings first."""
    return s.query(_BOARD, [list(STATUSES)])


def status_counts(board: pl.DataFrame) -> dict[str, int]:
    """How many checks are in each status (every status present, zero included)."""
    counts = dict(board.group_by("status").len().iter_rows()) if not board.is_empty() else {}
    return {status: int(counts.get(status, 0)) for status in STATUSES}


def result_history(s: ScopedSession, check: str, limit: int = 200) -> pl.DataFrame:
    """The last `limit` results of `check`, oldest first (ready to chart)."""
    return s.query(_HISTORY, [check, limit]).reverse()


def firing_alerts(s: ScopedSession) -> pl.DataFrame:
    """Alerts firing now, errors first, oldest first."""
    return s.query(_FIRING)


def run_checks_now(
    lh: Lakehouse, principal: Principal, names: Sequence[str] | None = None
) -> list[CheckOutcome]:
    """Run the enabled checks (all, or `names`) for `principal`: refused with `AccessDenied`
    by the database unless they are a data engineer."""
    return run_requested(lh, principal, names)
