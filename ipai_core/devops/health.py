"""The DevOps Health figures: reads of the gold DevOps views, under the caller's RLS.

Every function takes a `ScopedSession` (so the database decides what the caller may see) and
an optional list of repositories (None: all the caller can read); rows come back as Polars
frames in a stable order.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from psycopg import sql

from ipai_core.db.scoped import ScopedSession

Repositories = Sequence[str] | None


def repositories(s: ScopedSession) -> list[str]:
    """Repositories the caller can see DevOps figures for."""
    frame = s.query("SELECT repository FROM ipai_gold_devops.dora_summary ORDER BY repository")
    return [str(r) for r in frame["repository"]]


def dora_summary(s: ScopedSession, repos: Repositories = None) -> pl.DataFrame:
    """The four DORA metrics per repository, their levels, CI success and Spec Kit coverage."""
    return _read(s, "dora_summary", repos, order="repository")


def dora_weekly(s: ScopedSession, repos: Repositories = None) -> pl.DataFrame:
    """The DORA metrics per repository and week."""
    return _read(s, "dora_weekly", repos, order="repository, week")


def ci_status(s: ScopedSession, repos: Repositories = None) -> pl.DataFrame:
    """The latest CI run on each repository's default branch."""
    return _read(s, "ci_status", repos, order="repository")


def ci_weekly(s: ScopedSession, repos: Repositories = None) -> pl.DataFrame:
    """CI runs, success rate and median duration per repository and week."""
    return _read(s, "ci_weekly", repos, order="repository, week")


def deployments_weekly(s: ScopedSession, repos: Repositories = None) -> pl.DataFrame:
    """Deployments per repository, environment and week, with successes and failures."""
    return _read(s, "deployments_weekly", repos, order="repository, environment, week")


def spec_kit_coverage(s: ScopedSession, repos: Repositories = None) -> pl.DataFrame:
    """Spec Kit files present per repository and feature."""
    return _read(s, "spec_kit_coverage", repos, order="repository, feature")


def _read(s: ScopedSession, view: str, repos: Repositories, *, order: str) -> pl.DataFrame:
    statement = sql.SQL("SELECT * FROM {view}{where} ORDER BY {order}").format(
        view=sql.Identifier("ipai_gold_devops", view),
        where=sql.SQL("") if repos is None else sql.SQL(" WHERE repository = ANY(%s)"),
        order=sql.SQL(", ").join(sql.Identifier(c.strip()) for c in order.split(",")),
    )
    return s.query(statement, None if repos is None else [list(repos)])
