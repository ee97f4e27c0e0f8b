"""A refresh plan: which materialized views to refresh, in which order, and how. Pure data,
decided from the graph and a selection before anything touches the database."""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import TopologicalSorter

from ipai_core.errors import ConfigError
from ipai_core.transform.graph import Graph


@dataclass(frozen=True)
class RefreshStep:
    view: str
    concurrently: bool
    after: tuple[str, ...]  # views of this plan that must be refreshed first


@dataclass(frozen=True)
class RefreshPlan:
    steps: tuple[RefreshStep, ...]

    @property
    def views(self) -> list[str]:
        return [step.view for step in self.steps]


def plan_refresh(
    graph: Graph, selectors: list[str] | None = None, fed_by: list[str] | None = None
) -> RefreshPlan:
    """Selectors (dbt-like): `schema.view`, `view`, `schema.*`; `name+` adds everything
    downstream, `+name` everything upstream. `fed_by` selects the views fed by those tables.
    With neither, every materialized view is planned."""
    views = {n for n, r in graph.relations.items() if r.kind == "materialized view"}
    chosen = set(views) if not selectors and fed_by is None else set()
    for selector in selectors or []:
        chosen |= _select(graph, views, selector)
    if fed_by is not None:
        chosen |= graph.fed_by(fed_by)
    upstream = {v: graph.upstream_views(v) & chosen for v in chosen}
    order = list(TopologicalSorter(upstream).static_order())
    return RefreshPlan(
        tuple(
            RefreshStep(
                view=v,
                concurrently=graph.relations[v].unique_index and graph.relations[v].populated,
                after=tuple(sorted(upstream[v])),
            )
            for v in order
        )
    )


def _select(graph: Graph, views: set[str], selector: str) -> set[str]:
    downstream, upstream = selector.endswith("+"), selector.startswith("+")
    core = selector.strip("+")
    if core.endswith(".*"):
        matched = {v for v in views if v.startswith(core[:-1])}
    else:
        matched = {v for v in views if v == core or v.split(".", 1)[1] == core}
    if not matched:
        raise ConfigError(
            f"no materialized view matches `{selector}`; known: "
            f"{', '.join(sorted(views)) or 'none yet'}"
        )
    result = set(matched)
    if upstream:
        for view in matched:
            result |= graph.upstream_views(view)
    if downstream:
        result |= _closure(graph, views, matched)
    return result


def _closure(graph: Graph, views: set[str], start: set[str]) -> set[str]:
    result = set(start)
    changed = True
    while changed:
        changed = False
        for view in views - result:
            if graph.upstream_views(view) & result:
                result.add(view)
                changed = True
    return result
