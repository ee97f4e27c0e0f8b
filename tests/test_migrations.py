"""Migrations: ordered, checksummed, transactional, idempotent; `migrate check` as CI runs it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from conftest import MIGRATIONS

from ipai_core.errors import CheckFailed, MigrationChecksumError, MigrationError
from ipai_core.governance.rls_check import rls_coverage
from ipai_core.migrate.check import check_migrations
from ipai_core.migrate.runner import discover, migrate


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, target)
    return target


def test_applies_every_migration_in_order_then_nothing(new_database: Callable[[], str]) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        first = migrate(conn, MIGRATIONS)
        second = migrate(conn, MIGRATIONS)
        history = conn.execute("SELECT version FROM ipai_migrations.applied ORDER BY version")
        versions = [row[0] for row in history.fetchall()]
    assert first.shim_applied and not second.shim_applied
    assert [m.version for m in first.applied] == sorted(m.version for m in discover(MIGRATIONS))
    assert versions == [m.version for m in first.applied]
    assert second.applied == ()


def test_dry_run_lists_pending_and_changes_nothing(new_database: Callable[[], str]) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        report = migrate(conn, MIGRATIONS, dry_run=True)
        assert len(report.pending) == len(discover(MIGRATIONS))
        assert conn.execute("SELECT to_regclass('public.ipai_audit_log')").fetchone() == (None,)


def _namespace_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", [name]).fetchone()
    assert row is not None
    return bool(row[0])


def test_dry_run_creates_nothing_and_says_whether_the_shim_would_run(
    new_database: Callable[[], str], migrations_copy: Path
) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        before = migrate(conn, migrations_copy, dry_run=True)

        assert before.shim_pending and not before.shim_applied
        assert len(before.pending) == len(discover(migrations_copy))
        assert not _namespace_exists(conn, "ipai_migrations")
        assert not _namespace_exists(conn, "auth")

        migrate(conn, migrations_copy)
        (migrations_copy / "29990101000000_later.sql").write_text("SELECT 1;")
        after = migrate(conn, migrations_copy, dry_run=True)

    assert not after.shim_pending
    assert [m.version for m in after.pending] == ["29990101000000"]


def test_dry_run_still_refuses_an_edited_applied_migration(
    new_database: Callable[[], str], migrations_copy: Path
) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        migrate(conn, migrations_copy)
        edited = sorted(migrations_copy.glob("*.sql"))[0]
        edited.write_text(edited.read_text() + "\n-- a later edit\n")
        with pytest.raises(MigrationChecksumError):
            migrate(conn, migrations_copy, dry_run=True)


def test_editing_an_applied_migration_is_refused_by_name(
    new_database: Callable[[], str], migrations_copy: Path
) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        migrate(conn, migrations_copy)
        edited = sorted(migrations_copy.glob("*.sql"))[2]
        edited.write_text(edited.read_text() + "\n-- a later edit\n")
        with pytest.raises(MigrationChecksumError) as caught:
            migrate(conn, migrations_copy)
    assert caught.value.filename == edited.name
    assert edited.name in str(caught.value)


def test_a_deleted_applied_migration_is_refused(
    new_database: Callable[[], str], migrations_copy: Path
) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        migrate(conn, migrations_copy)
        removed = sorted(migrations_copy.glob("*.sql"))[-1]
        removed.unlink()
        with pytest.raises(MigrationError) as caught:
            migrate(conn, migrations_copy)
    assert caught.value.version == removed.name[:14]


def test_a_failing_migration_leaves_nothing_behind(
    new_database: Callable[[], str], migrations_copy: Path
) -> None:
    (migrations_copy / "29990101000000_broken.sql").write_text(
        "CREATE TABLE ipai_bronze_core.half_done (id int);\nSELECT 1/0;\n"
    )
    with psycopg.connect(new_database(), autocommit=True) as conn:
        with pytest.raises(MigrationError) as caught:
            migrate(conn, migrations_copy)
        assert caught.value.version == "29990101000000"
        assert conn.execute("SELECT to_regclass('ipai_bronze_core.half_done')").fetchone() == (
            None,
        )
        recorded = conn.execute(
            "SELECT count(*) FROM ipai_migrations.applied WHERE version = '29990101000000'"
        ).fetchone()
        assert recorded == (0,)
        # Everything before the broken file did apply and stays applied.
        assert conn.execute("SELECT to_regclass('public.ipai_audit_log')").fetchone() != (None,)


@pytest.mark.parametrize(
    "name", ["2026_bad.sql", "20261124000100-dash.sql", "20261124000100_Upper.sql"]
)
def test_misnamed_files_are_refused(migrations_copy: Path, name: str) -> None:
    (migrations_copy / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=name):
        discover(migrations_copy)


def test_two_files_with_one_version_are_refused(migrations_copy: Path) -> None:
    (migrations_copy / "20261124000100_twin.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError):
        discover(migrations_copy)


def test_migrate_check_passes_on_the_shipped_migrations(pg_server) -> None:  # type: ignore[no-untyped-def]
    report = check_migrations(pg_server.url("postgres"), MIGRATIONS)
    assert len(report.first.applied) == len(discover(MIGRATIONS))
    assert report.second.applied == ()
    assert report.every_schema.percent == 100.0
    with psycopg.connect(pg_server.url("postgres")) as conn:
        leftover = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [report.scratch_database]
        ).fetchone()
    assert leftover == (0,)


def test_migrate_check_fails_on_a_gold_table_without_rls(pg_server, migrations_copy: Path) -> None:  # type: ignore[no-untyped-def]
    (migrations_copy / "29990101000000_unguarded.sql").write_text(
        "CREATE TABLE ipai_gold_core.unguarded (id int);"
    )
    with pytest.raises(CheckFailed) as caught:
        check_migrations(pg_server.url("postgres"), migrations_copy)
    assert any("ipai_gold_core.unguarded" in f for f in caught.value.failures)


def test_migrate_check_fails_on_a_view_that_bypasses_rls(pg_server, migrations_copy: Path) -> None:  # type: ignore[no-untyped-def]
    (migrations_copy / "29990101000000_definer_view.sql").write_text(
        "CREATE VIEW ipai_gold_core.leaky AS SELECT * FROM public.ipai_audit_log;"
    )
    with pytest.raises(CheckFailed) as caught:
        check_migrations(pg_server.url("postgres"), migrations_copy)
    assert any("ipai_gold_core.leaky" in f for f in caught.value.failures)


@pytest.mark.parametrize("every_schema", [False, True])
def test_rls_coverage_refuses_an_unmigrated_database(
    new_database: Callable[[], str], every_schema: bool
) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn, pytest.raises(CheckFailed):
        rls_coverage(conn, every_schema=every_schema)


def test_rls_coverage_of_empty_gold_schemas_is_complete(new_database: Callable[[], str]) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ipai_gold_core")
        coverage = rls_coverage(conn)
    assert coverage.total == 0 and coverage.failures == []


def test_every_control_plane_table_has_rls_and_a_policy(owner_conn: psycopg.Connection) -> None:
    rows = owner_conn.execute(
        "SELECT c.relname, c.relrowsecurity,"
        " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'ipai%'"
    ).fetchall()
    names = {r[0] for r in rows}
    assert {
        "ipai_connector_config",
        "ipai_connector_run",
        "ipai_app_registry",
        "ipai_agent",
        "ipai_agent_run",
        "ipai_audit_log",
        "ipai_semantic_model",
    } <= names
    assert [r[0] for r in rows if not r[1] or r[2] == 0] == []


def test_audit_log_has_the_prd_indexes(owner_conn: psycopg.Connection) -> None:
    indexes = {
        r[0]
        for r in owner_conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'ipai_audit_log'"
        ).fetchall()
    }
    assert {"idx_audit_event_type", "idx_audit_entity", "idx_audit_created"} <= indexes


def test_migrate_check_accepts_a_guarded_view_over_a_private_materialized_view(
    pg_server,
    migrations_copy: Path,  # type: ignore[no-untyped-def]
) -> None:
    (migrations_copy / "29990101000000_guarded.sql").write_text(
        "CREATE MATERIALIZED VIEW ipai_gold_core.mv_private AS SELECT 1 AS x;\n"
        "REVOKE ALL ON ipai_gold_core.mv_private FROM authenticated, anon;\n"
        "CREATE VIEW ipai_gold_core.guarded WITH (security_barrier) AS\n"
        "  SELECT x FROM ipai_gold_core.mv_private WHERE public.ipai_has_role('analyst');\n"
    )
    report = check_migrations(pg_server.url("postgres"), migrations_copy)
    assert report.gold_platinum.percent == 100.0
    assert {f.name for f in report.gold_platinum.findings} >= {"mv_private", "guarded"}


def test_migrate_check_refuses_a_barrier_view_without_an_access_check(
    pg_server,
    migrations_copy: Path,  # type: ignore[no-untyped-def]
) -> None:
    (migrations_copy / "29990101000000_unguarded.sql").write_text(
        "CREATE MATERIALIZED VIEW ipai_gold_core.mv_open AS SELECT 1 AS x;\n"
        "REVOKE ALL ON ipai_gold_core.mv_open FROM authenticated, anon;\n"
        "CREATE VIEW ipai_gold_core.barrier_only WITH (security_barrier) AS\n"
        "  SELECT x FROM ipai_gold_core.mv_open;\n"
    )
    with pytest.raises(CheckFailed) as caught:
        check_migrations(pg_server.url("postgres"), migrations_copy)
    assert any("barrier_only" in f for f in caught.value.failures)
