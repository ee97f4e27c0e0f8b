"""Refreshing feature sets, as the service role.

Feature tables are materialized views: the transformations refresh them, and the hook below
stamps the registry (time, row count, status). Embedding sets are tables filled here: the rows of
a set's text view whose source row changed (its hash), or that another model embedded, are
embedded in batches of `embeddings_batch_size` (only one batch is in memory) and upserted; rows
whose entity disappeared are deleted. Running it twice embeds nothing the second time.

`refresh_after_transform` is the transformations' hook: after a full run every embedding set is
checked, after a connector run only those whose text view reads a table the run changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import EmbeddingsUnavailable
from ipai_core.features.embeddings import Embedder, embedder_from_settings
from ipai_core.features.registry import (
    FeatureSet,
    RefreshStatus,
    list_feature_sets,
    record_refresh,
)
from ipai_core.features.store import EmbeddingTable
from ipai_core.lakehouse import Lakehouse
from ipai_core.transform.graph import Graph, read_graph


class ViewOutcome(Protocol):
    """What the hook needs of a transformation's per-view outcome."""

    view: str
    status: str
    seconds: float
    error: str | None


@dataclass(frozen=True)
class FeatureRefresh:
    name: str
    status: RefreshStatus
    embedded: int = 0  # rows (re-)embedded
    removed: int = 0  # rows whose entity is gone
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class FeaturePlan:
    """What a hook call will do: stamp these feature tables, refresh these embedding sets."""

    features: tuple[tuple[FeatureSet, ViewOutcome], ...] = ()  # set, its view's outcome
    embeddings: tuple[FeatureSet, ...] = ()


def plan_after_transform(
    sets: Sequence[FeatureSet],
    graph: Graph,
    outcomes: Sequence[ViewOutcome],
    changed_tables: Collection[str] | None,
) -> FeaturePlan:
    """Feature tables whose materialized view the run touched; embedding sets that read a changed
    table (all of them when `changed_tables` is None: a full run)."""
    by_view = {o.view: o for o in outcomes}
    features = tuple(
        (fs, by_view[fs.materialized_view]) for fs in sets if fs.materialized_view in by_view
    )
    embeddings = tuple(
        fs
        for fs in sets
        if fs.text_view is not None
        and (changed_tables is None or _reads_any(graph, fs.text_view, set(changed_tables)))
    )
    return FeaturePlan(features, embeddings)


def refresh_after_transform(
    lh: Lakehouse,
    outcomes: Sequence[ViewOutcome],
    changed_tables: Collection[str] | None,
    *,
    trigger: str,
) -> list[FeatureRefresh]:
    """The transformations' hook. A feature set that fails is recorded on the registry (and
    in the result), not raised, so the transformation run stands."""
    if not outcomes and changed_tables is not None and not changed_tables:
        return []
    with lh.session(Principal.service("features: plan")) as s:
        plan = plan_after_transform(list_feature_sets(s), read_graph(s), outcomes, changed_tables)
        results = [_stamp_features(s, fs, outcome) for fs, outcome in plan.features]
    results += _refresh_embedding_sets(lh, plan.embeddings, embedder=None)
    _audit(lh, results, trigger)
    return results


def refresh_embedding_sets(
    lh: Lakehouse, sets: Sequence[FeatureSet], *, embedder: Embedder, trigger: str
) -> list[FeatureRefresh]:
    """Refresh these embedding sets with `embedder` (the CLI's path); audited."""
    results = _refresh_embedding_sets(lh, sets, embedder=embedder)
    _audit(lh, results, trigger)
    return results


def refresh_embeddings(
    lh: Lakehouse, feature_set: FeatureSet, embedder: Embedder, *, batch_size: int | None = None
) -> FeatureRefresh:
    """Bring one embedding set up to date in one transaction (raises on failure)."""
    started = time.monotonic()
    size = batch_size or lh.settings.embeddings_batch_size
    with lh.session(Principal.service(f"features: embed {feature_set.name}")) as s:
        s.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ipai_features:{feature_set.name}"]
        )
        table = EmbeddingTable.read(s, feature_set)
        removed = s.execute(table.delete_gone())
        embedded = 0
        for batch in table.pending(s, embedder.model, size):
            vectors = embedder.embed([row["text"] for row in batch])
            table.upsert(s, batch, vectors, embedder.model)
            embedded += len(batch)
        record_refresh(s, feature_set.name, status="success", model=embedder.model)
    return FeatureRefresh(
        feature_set.name, "success", embedded, removed, time.monotonic() - started
    )


def _refresh_embedding_sets(
    lh: Lakehouse, sets: Sequence[FeatureSet], *, embedder: Embedder | None
) -> list[FeatureRefresh]:
    if not sets:
        return []
    try:
        chosen = embedder or embedder_from_settings(lh.settings)
    except EmbeddingsUnavailable as exc:
        status: RefreshStatus = "skipped" if exc.mode == "off" else "failed"
        results = [FeatureRefresh(fs.name, status, error=str(exc)) for fs in sets]
    else:
        results = [_refresh_one(lh, fs, chosen) for fs in sets]
    failed = [r for r in results if r.status != "success"]
    if failed:
        with lh.session(Principal.service("features: record failures")) as s:
            for r in failed:
                record_refresh(s, r.name, status=r.status, error=r.error)
    return results


def _refresh_one(lh: Lakehouse, feature_set: FeatureSet, embedder: Embedder) -> FeatureRefresh:
    started = time.monotonic()
    try:
        return refresh_embeddings(lh, feature_set, embedder)
    except Exception as exc:  # recorded on the registry; the other sets go on
        return FeatureRefresh(
            feature_set.name, "failed", seconds=time.monotonic() - started, error=f"{exc}".strip()
        )


def _stamp_features(
    s: ScopedSession, feature_set: FeatureSet, outcome: ViewOutcome
) -> FeatureRefresh:
    if outcome.status == "success":
        record_refresh(s, feature_set.name, status="success")
        return FeatureRefresh(feature_set.name, "success", seconds=outcome.seconds)
    reason = outcome.error or f"the refresh of {outcome.view} was {outcome.status}"
    record_refresh(s, feature_set.name, status="failed", error=reason)
    return FeatureRefresh(feature_set.name, "failed", seconds=outcome.seconds, error=reason)


def _reads_any(graph: Graph, name: str, tables: set[str]) -> bool:
    """Whether `name` reads any of `tables`, directly or through other relations."""
    stack, seen = [name], set()
    while stack:
        current = stack.pop()
        if current in tables:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(graph.reads.get(current, ()))
    return False


def _audit(lh: Lakehouse, results: Sequence[FeatureRefresh], trigger: str) -> None:
    if not results:
        return
    ok = all(r.status != "failed" for r in results)
    with lh.session(Principal.service("features: audit")) as s:
        s.execute(
            "SELECT public.ipai_audit('features_refresh', 'feature_set', NULL, %s, %s)",
            [
                "success" if ok else "failed",
                json.dumps(
                    {
                        "trigger": trigger,
                        "sets": [
                            {
                                "name": r.name,
                                "status": r.status,
                                "embedded": r.embedded,
                                "removed": r.removed,
                                "seconds": round(r.seconds, 3),
                                "error": r.error,
                            }
                            for r in results
                        ],
                    }
                ),
            ],
        )
