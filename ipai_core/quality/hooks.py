"""What follows a connector run and a transformation refresh: the checks on what changed, and
the run's outgoing event. The sync engine and the transformation runner each call one function
here when they finish.

"What changed" is the set of relations the run wrote (bronze tables, or refreshed materialized
views) plus the plain views that read them; a check is touched when its target or any relation
its rule reads (a referential check's `to`) is in that set. Gold's served views are plain views
over materialized ones, so they are touched by the refresh, not by the sync.

Nothing here may fail a run or delay it on the network: every step is contained and logged, and
events only enter the outbox (delivery is the scheduler's job).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ipai_core.alerts.events import OutgoingEvent, publish
from ipai_core.alerts.run_events import connector_run_event, transform_run_event
from ipai_core.db.principal import Principal
from ipai_core.lakehouse import Lakehouse
from ipai_core.quality.runner import run_checks
from ipai_core.quality.store import StoredCheck, list_checks
from ipai_core.transform.graph import Graph, read_graph

if TYPE_CHECKING:  # both callers import this module
    from ipai_core.sync.engine import RunResult
    from ipai_core.transform.runner import TransformResult

log = logging.getLogger(__name__)


def after_connector_run(lh: Lakehouse, result: RunResult) -> None:
    """Checks touched by the tables the run's successful streams changed; then its event."""
    changed = {
        s.table
        for s in result.streams.values()
        if s.table and s.status == "success" and (s.rows_written or s.rows_deleted)
    }
    if changed:
        _contained(
            f"data quality checks after connector `{result.connector}`",
            lambda: run_checks(
                lh, touched_checks(lh, changed), trigger="connector_run", run_id=result.run_id
            ),
        )
    _contained("the connector run event", lambda: _publish(lh, connector_run_event(result)))


def after_transformation(lh: Lakehouse, result: TransformResult, trigger: str) -> None:
    """Checks touched by the refreshed views; then the refresh's event."""
    refreshed = {o.view for o in result.outcomes if o.status == "success"}
    if refreshed:
        _contained(
            f"data quality checks after the refresh ({trigger})",
            lambda: run_checks(lh, touched_checks(lh, refreshed), trigger="transform"),
        )
    _contained(
        "the transformation run event", lambda: _publish(lh, transform_run_event(result, trigger))
    )


def touched_checks(lh: Lakehouse, changed: Iterable[str]) -> list[StoredCheck]:
    """Enabled checks whose target, or a relation their rule reads, is touched by `changed`."""
    with lh.session(Principal.service("data quality: checks touched by a change")) as s:
        checks = list_checks(s, enabled_only=True)
        if not checks:
            return []
        touched = touched_relations(read_graph(s), changed)
    return [c for c in checks if c.relations() & touched]


def touched_relations(graph: Graph, changed: Iterable[str]) -> set[str]:
    """`changed` and every plain view that reads one of them, directly or through other plain
    views (materialized views change only when refreshed)."""
    touched = set(changed)
    grew = True
    while grew:
        grew = False
        for name, relation in graph.relations.items():
            reads = graph.reads.get(name, frozenset())
            if relation.kind == "view" and name not in touched and touched & reads:
                touched.add(name)
                grew = True
    return touched


def _publish(lh: Lakehouse, event: OutgoingEvent) -> None:
    with lh.session(Principal.service(f"alerts: {event.type} event")) as s:
        publish(s, event)


def _contained(what: str, step: Callable[[], object]) -> None:
    try:
        step()
    except Exception:  # a finished run stays finished; the failure is logged for operators
        log.exception("%s failed; the run itself is not affected", what)
