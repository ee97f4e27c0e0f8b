"""`ipai features list|refresh [NAME]`: the platinum feature sets and their refresh."""

from __future__ import annotations

from dataclasses import asdict

import typer

from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.db.principal import Principal
from ipai_core.errors import IpaiError
from ipai_core.features.embeddings import embedder_from_settings
from ipai_core.features.refresh import FeatureRefresh, refresh_embedding_sets
from ipai_core.features.registry import FeatureSet, get_feature_set, list_feature_sets
from ipai_core.lakehouse import Lakehouse
from ipai_core.transform.runner import run_transformations

app = typer.Typer(
    help="AI feature sets: platinum feature tables and embeddings.", no_args_is_help=True
)


def _cli(reason: str) -> Principal:
    return Principal.service(f"cli: features {reason}")


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """Feature sets with their relation, row count, last refresh and status."""
    with Lakehouse.open() as lh, lh.session(_cli("list")) as s:
        sets = list_feature_sets(s)
    if as_json:
        emit_json([asdict(fs) for fs in sets])
        return
    emit_table(
        ("name", "kind", "relation", "rows", "refreshed", "status", "model", "owner"),
        [
            (
                fs.name,
                fs.kind,
                fs.relation,
                fs.row_count,
                fs.refreshed_at.isoformat(timespec="seconds") if fs.refreshed_at else None,
                fs.last_status,
                fs.model,
                fs.owner,
            )
            for fs in sets
        ],
    )


@app.command()
def refresh(
    name: str | None = typer.Argument(None, help="One feature set (default: all)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Refresh feature tables (with the gold views they read) and embed new or changed rows."""
    with Lakehouse.open() as lh:
        with lh.session(_cli("refresh")) as s:
            sets = [get_feature_set(s, name)] if name else list_feature_sets(s)
        results = _refresh(lh, sets)
    if as_json:
        emit_json([asdict(r) for r in results])
    else:
        emit_table(
            ("name", "status", "embedded", "removed", "seconds", "error"),
            [
                (r.name, r.status, r.embedded, r.removed, f"{r.seconds:.2f}", r.error)
                for r in results
            ],
        )
    if any(r.status == "failed" for r in results):
        raise IpaiError("some feature sets failed to refresh; see the lines above")


def _refresh(lh: Lakehouse, sets: list[FeatureSet]) -> list[FeatureRefresh]:
    embedding_sets = [fs for fs in sets if fs.is_embeddings]
    embedder = embedder_from_settings(lh.settings) if embedding_sets else None
    views = [f"+{fs.materialized_view}" for fs in sets if fs.materialized_view]
    results: list[FeatureRefresh] = []
    if views:
        transform = run_transformations(lh, views, trigger="cli: features refresh")
        wanted = {fs.name for fs in sets}
        results += [r for r in transform.features if r.name in wanted]
    if embedder is not None:
        results += refresh_embedding_sets(
            lh, embedding_sets, embedder=embedder, trigger="cli: features refresh"
        )
    return results
