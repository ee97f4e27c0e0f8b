"""The transformation runner: dependency order from the catalog, concurrent refresh where a
unique index allows, failures skip only their dependants."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from ipai_core import ConfigError, Lakehouse, Principal
from ipai_core.transform.graph import read_graph
from ipai_core.transform.plan import plan_refresh
from ipai_core.transform.runner import run_transformations

T = "ipai_silver_core"


@pytest.fixture
def chain(owner_conn: psycopg.Connection) -> Iterator[None]:
    """base table → mv_a (unique index) → plain view → mv_b; mv_c reads the table only;
    mv_bad divides by a column that the test can set to zero."""
    owner_conn.execute(f"""
        CREATE TABLE {T}.t_src (id int PRIMARY KEY, v int NOT NULL DEFAULT 1);
        INSERT INTO {T}.t_src SELECT g, 1 FROM generate_series(1, 10) g;
        CREATE MATERIALIZED VIEW {T}.mv_a AS SELECT id, v * 2 AS v2 FROM {T}.t_src;
        CREATE UNIQUE INDEX ON {T}.mv_a (id);
        CREATE VIEW {T}.v_mid AS SELECT id, v2 + 1 AS v3 FROM {T}.mv_a;
        CREATE MATERIALIZED VIEW {T}.mv_b AS SELECT sum(v3) AS total FROM {T}.v_mid;
        CREATE MATERIALIZED VIEW {T}.mv_c AS SELECT count(*) AS n FROM {T}.t_src;
        CREATE MATERIALIZED VIEW {T}.mv_bad AS SELECT id, 10 / v AS q FROM {T}.t_src;
        CREATE MATERIALIZED VIEW {T}.mv_after_bad AS SELECT count(*) AS n FROM {T}.mv_bad;
    """)
    yield
    owner_conn.execute(f"DROP TABLE {T}.t_src CASCADE")


def test_plan_follows_dependencies_through_plain_views(lakehouse: Lakehouse, chain: None) -> None:
    with lakehouse.session(Principal.service("test")) as s:
        plan = plan_refresh(read_graph(s), [f"{T}.mv_a+"])
    assert plan.views.index(f"{T}.mv_a") < plan.views.index(f"{T}.mv_b")
    assert f"{T}.mv_c" not in plan.views
    steps = {step.view: step for step in plan.steps}
    assert steps[f"{T}.mv_a"].concurrently and not steps[f"{T}.mv_b"].concurrently
    assert steps[f"{T}.mv_b"].after == (f"{T}.mv_a",)


def test_views_fed_by_a_table(lakehouse: Lakehouse, chain: None) -> None:
    with lakehouse.session(Principal.service("test")) as s:
        plan = plan_refresh(read_graph(s), fed_by=[f"{T}.t_src"])
    assert {f"{T}.mv_a", f"{T}.mv_b", f"{T}.mv_c"} <= set(plan.views)


def test_refresh_brings_new_data_and_a_failure_skips_only_its_dependants(
    lakehouse: Lakehouse, chain: None, owner_conn: psycopg.Connection
) -> None:
    owner_conn.execute(f"INSERT INTO {T}.t_src VALUES (11, 1)")
    owner_conn.execute(f"UPDATE {T}.t_src SET v = 0 WHERE id = 1")
    result = run_transformations(lakehouse, [f"{T}.*"])
    status = {o.view: o.status for o in result.outcomes}
    assert status[f"{T}.mv_bad"] == "failed" and status[f"{T}.mv_after_bad"] == "skipped"
    assert status[f"{T}.mv_a"] == status[f"{T}.mv_b"] == status[f"{T}.mv_c"] == "success"
    assert owner_conn.execute(f"SELECT n FROM {T}.mv_c").fetchone() == (11,)
    assert owner_conn.execute(f"SELECT total FROM {T}.mv_b").fetchone() == (1 + 10 * 3,)
    assert not result.ok
    audited = owner_conn.execute(
        "SELECT action FROM ipai_audit_log WHERE event_type = 'transform_run'"
        " ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    assert audited == ("failed",)


def test_unknown_selector_lists_the_known_views(lakehouse: Lakehouse, chain: None) -> None:
    with pytest.raises(ConfigError, match="mv_a"):
        run_transformations(lakehouse, ["nope"])


def test_the_refresh_function_refuses_other_relations(lakehouse: Lakehouse, chain: None) -> None:
    from ipai_core import AccessDenied

    with pytest.raises(AccessDenied), lakehouse.session(Principal.service("test")) as s:
        s.execute("SELECT public.ipai_refresh_materialized_view('public.ipai_audit_log', false)")
