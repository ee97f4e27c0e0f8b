"""Executes a refresh plan as the service role (through `ipai_refresh_materialized_view`),
one view per transaction, in plan order; a failed view stops the views that depend on it but
not the others. Each run is audited with its per-view timings. Then the feature sets built on
the refreshed data are brought up to date (`ipai_core.features.refresh`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from ipai_core.db.principal import Principal
from ipai_core.features.refresh import FeatureRefresh, refresh_after_transform
from ipai_core.lakehouse import Lakehouse
from ipai_core.observability import observe
from ipai_core.quality.hooks import after_transformation
from ipai_core.transform.graph import read_graph
from ipai_core.transform.plan import RefreshPlan, plan_refresh


@dataclass
class RefreshOutcome:
    view: str
    status: str  # success, failed, skipped
    seconds: float = 0.0
    concurrently: bool = False
    error: str | None = None


@dataclass
class TransformResult:
    outcomes: list[RefreshOutcome] = field(default_factory=list)
    features: list[FeatureRefresh] = field(default_factory=list)  # feature sets, after the views

    @property
    def ok(self) -> bool:
        return all(o.status == "success" for o in self.outcomes)


def plan(
    lh: Lakehouse, selectors: list[str] | None = None, fed_by: list[str] | None = None
) -> RefreshPlan:
    with lh.session(Principal.service("transform: plan")) as s:
        return plan_refresh(read_graph(s), selectors, fed_by)


def run_transformations(
    lh: Lakehouse,
    selectors: list[str] | None = None,
    *,
    fed_by: list[str] | None = None,
    trigger: str = "manual",
) -> TransformResult:
    """Refresh the selected materialized views (all, by selector, or those fed by tables)."""
    with observe.transform_run(trigger) as observed:
        result = _run_transformations(lh, selectors, fed_by=fed_by, trigger=trigger)
        observed.finished(ok=result.ok, views=len(result.outcomes))
    return result


def _run_transformations(
    lh: Lakehouse, selectors: list[str] | None, *, fed_by: list[str] | None, trigger: str
) -> TransformResult:
    refresh_plan = plan(lh, selectors, fed_by)
    result = TransformResult()
    failed: set[str] = set()
    for step in refresh_plan.steps:
        if failed.intersection(step.after):
            result.outcomes.append(
                RefreshOutcome(step.view, "skipped", error="an upstream view failed")
            )
            failed.add(step.view)
            continue
        started = time.monotonic()
        try:
            with (
                observe.view_refresh(step.view),
                lh.session(Principal.service(f"transform: refresh {step.view}")) as s,
            ):
                s.execute(
                    "SELECT public.ipai_refresh_materialized_view(%s::regclass, %s)",
                    [step.view, step.concurrently],
                )
            result.outcomes.append(
                RefreshOutcome(step.view, "success", time.monotonic() - started, step.concurrently)
            )
        except Exception as exc:  # recorded; dependants are skipped, others continue
            failed.add(step.view)
            result.outcomes.append(
                RefreshOutcome(
                    step.view,
                    "failed",
                    time.monotonic() - started,
                    step.concurrently,
                    f"{exc}".strip(),
                )
            )
    if result.outcomes:
        _audit(lh, result, trigger)
        after_transformation(lh, result, trigger)  # checks on refreshed views, the event
    changed = None if not selectors and fed_by is None else (fed_by or [])
    result.features = refresh_after_transform(lh, result.outcomes, changed, trigger=trigger)
    return result


def _audit(lh: Lakehouse, result: TransformResult, trigger: str) -> None:
    with lh.session(Principal.service("transform: audit")) as s:
        s.execute(
            "SELECT public.ipai_audit('transform_run', 'transform', NULL, %s, %s)",
            [
                "success" if result.ok else "failed",
                json.dumps(
                    {
                        "trigger": trigger,
                        "views": [
                            {
                                "view": o.view,
                                "status": o.status,
                                "seconds": round(o.seconds, 3),
                                "concurrently": o.concurrently,
                                "error": o.error,
                            }
                            for o in result.outcomes
                        ],
                    }
                ),
            ],
        )
