"""The outgoing events of connector and transformation runs (PRD 4.1.6: n8n and other
orchestrators react to them), built from the runs' results — pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipai_core.alerts.events import OutgoingEvent

if TYPE_CHECKING:  # the engine and the runner call the hooks that call this module
    from ipai_core.sync.engine import RunResult
    from ipai_core.transform.runner import TransformResult


def connector_run_event(result: RunResult) -> OutgoingEvent:
    written = sum(s.rows_written for s in result.streams.values())
    if result.ok:
        summary = f"connector `{result.connector}` finished: {written:,} rows written"
    else:
        summary = f"connector `{result.connector}` failed: {result.error}"
    return OutgoingEvent(
        "connector_run.finished" if result.ok else "connector_run.failed",
        "info" if result.ok else "error",
        summary,
        data={
            "connector": result.connector,
            "run_id": result.run_id,
            "status": result.status,
            "error": result.error,
            "duration_s": round(result.duration_s, 3),
            "rows_read": sum(s.rows_read for s in result.streams.values()),
            "rows_written": written,
            "streams": {
                name: {
                    "status": s.status,
                    "table": s.table,
                    "rows_written": s.rows_written,
                    "rows_deleted": s.rows_deleted,
                    "rows_quarantined": s.rows_quarantined,
                    "error": s.error,
                }
                for name, s in result.streams.items()
            },
        },
    )


def transform_run_event(result: TransformResult, trigger: str) -> OutgoingEvent:
    failed = [o.view for o in result.outcomes if o.status != "success"]
    refreshed = len(result.outcomes) - len(failed)
    if result.ok:
        summary = f"{refreshed} materialized view(s) refreshed ({trigger})"
    else:
        summary = f"{len(failed)} view(s) not refreshed ({trigger}): {', '.join(failed)}"
    return OutgoingEvent(
        "transform_run.finished" if result.ok else "transform_run.failed",
        "info" if result.ok else "error",
        summary,
        data={
            "trigger": trigger,
            "status": "success" if result.ok else "failed",
            "views": [
                {
                    "view": o.view,
                    "status": o.status,
                    "seconds": round(o.seconds, 3),
                    "error": o.error,
                }
                for o in result.outcomes
            ],
        },
    )
