"""Tests for the `ipai` command line: the installed console script runs as a subprocess against the
test server (through `IPAI_DATABASE_URL`), exactly as a user or CI would run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import MIGRATIONS, TEST_JWT_SECRET, make_settings

from ipai_core.errors import DatabaseError
from ipai_core.lakehouse import Lakehouse

IPAI = Path(sys.executable).parent / "ipai"
PASSWORD = "correct horse battery staple"

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _cli_for(url: str | None, data_dir: Path, data_dir_setting: str | None = None) -> Cli:
    """`ipai <args>` with no inherited IPAI_* variable, only this URL (none: the embedded server),
    data dir (`data_dir_setting` as written, else `data_dir`) and secret; it runs in `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATA_DIR": data_dir_setting or str(data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
    }
    if url is not None:
        env["IPAI_DATABASE_URL"] = url

    def run(
        *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IPAI), *args],
            env=env | (extra_env or {}),
            cwd=data_dir,  # no stray .env
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    return run


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def cli(database_url: str, data_dir: Path) -> Cli:
    """The CLI on the session's migrated database (for commands that change nothing)."""
    return _cli_for(database_url, data_dir)


@pytest.fixture
def fresh_url(new_database: Callable[[], str]) -> str:
    """An empty database of this test only."""
    return new_database()


@pytest.fixture
def fresh_cli(fresh_url: str, data_dir: Path) -> Cli:
    """The CLI on a database of this test only, migrated with `ipai migrate`."""
    run = _cli_for(fresh_url, data_dir)
    result = run("migrate")
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture
def fresh_owner(fresh_url: str, fresh_cli: Cli) -> Iterator[psycopg.Connection]:
    """An owner connection to the (migrated) fresh database."""
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        yield conn


def _migration_files() -> list[str]:
    names = sorted(p.name for p in MIGRATIONS.glob("*.sql"))
    assert names, "no migration files found"
    return names


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _exists(url: str, relation: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [relation]).fetchone()
    assert row is not None
    return bool(row[0])


def _assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


# -- db ---------------------------------------------------------------------------------------


def test_db_url_prints_the_configured_url_and_never_starts_the_embedded_server(
    cli: Cli, database_url: str, data_dir: Path
) -> None:
    result = cli("db", "url")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{database_url}\n"
    assert not (data_dir / "postgres").exists()


def test_db_start_with_a_configured_url_leaves_the_embedded_server_alone(
    cli: Cli, data_dir: Path
) -> None:
    result = cli("db", "start")

    assert result.returncode == 0, result.stderr
    assert "IPAI_DATABASE_URL is set" in result.stdout
    assert not (data_dir / "postgres").exists()


def test_db_status_json_says_not_embedded(cli: Cli, data_dir: Path) -> None:
    result = cli("db", "status", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["embedded"] is False
    assert not (data_dir / "postgres").exists()


@pytest.mark.parametrize("setting", ["rel/dir", "~/dir"])
def test_a_relative_or_home_data_dir_is_resolved(data_dir: Path, setting: str) -> None:
    run = _cli_for(None, data_dir, data_dir_setting=setting)
    home = data_dir / "home"

    result = run("db", "status", "--json", extra_env={"HOME": str(home)})

    assert result.returncode == 0, result.stderr
    base = data_dir / "rel" if setting.startswith("rel") else home
    assert json.loads(result.stdout)["data_dir"] == str((base / "dir" / "postgres").resolve())


# -- an unreachable database ------------------------------------------------------------------


@pytest.fixture
def unreachable_url() -> str:
    return f"postgresql://nobody:s3cret-pw@127.0.0.1:{_unused_port()}/none"


@pytest.mark.parametrize(
    "args", [("rls", "check"), ("migrate",), ("migrate", "--dry-run"), ("users", "list")]
)
def test_an_unreachable_database_is_one_clean_line_at_once(
    unreachable_url: str, data_dir: Path, args: tuple[str, ...]
) -> None:
    run = _cli_for(unreachable_url, data_dir)
    port = unreachable_url.rsplit(":", 1)[1].split("/")[0]

    started = time.monotonic()
    result = run(*args)
    elapsed = time.monotonic() - started

    _assert_clean_failure(result)
    assert f"port={port}" in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert elapsed < 10  # not the pool's 15 s timeout


def test_lakehouse_open_refuses_an_unreachable_database_at_once(
    unreachable_url: str, data_dir: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseError) as caught:
        Lakehouse.open(make_settings(unreachable_url, data_dir))
    assert time.monotonic() - started < 6
    assert "s3cret-pw" not in str(caught.value)


# -- migrate ----------------------------------------------------------------------------------


def test_migrate_dry_run_then_migrate_then_nothing_left(fresh_url: str, data_dir: Path) -> None:
    run = _cli_for(fresh_url, data_dir)
    files = _migration_files()

    dry = run("migrate", "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert "the Supabase shim would be applied first" in dry.stdout
    assert f"{len(files)} pending migration(s):" in dry.stdout
    assert [line.strip() for line in dry.stdout.splitlines()[-len(files) :]] == files
    assert not _exists(fresh_url, "public.ipai_audit_log")
    assert not _exists(fresh_url, "auth.users")  # not even the Supabase shim
    assert not _exists(fresh_url, "ipai_migrations.applied")  # nor the history table

    first = run("migrate")

    assert first.returncode == 0, first.stderr
    assert [f"applied {name}" for name in files] == [
        line for line in first.stdout.splitlines() if line.startswith("applied 2")
    ]
    assert f"{len(files)} migration(s) applied" in first.stdout
    assert _exists(fresh_url, "public.ipai_audit_log")

    second = run("migrate")

    assert second.returncode == 0, second.stderr
    assert "0 migration(s) applied" in second.stdout
    assert "applied 2" not in second.stdout

    dry_again = run("migrate", "--dry-run")

    assert dry_again.returncode == 0, dry_again.stderr
    assert "the Supabase shim is up to date" in dry_again.stdout
    assert "0 pending migration(s):" in dry_again.stdout


def test_migrate_check_passes(cli: Cli) -> None:
    result = cli("migrate", "check")

    assert result.returncode == 0, result.stderr
    assert "migrate check passed" in result.stdout


# -- rls / spec -------------------------------------------------------------------------------


def test_rls_check_passes(cli: Cli) -> None:
    result = cli("rls", "check")

    assert result.returncode == 0, result.stderr
    assert "100.0%" in result.stdout


def test_rls_check_json_reports_full_coverage(cli: Cli) -> None:
    result = cli("rls", "check", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["percent"] == 100
    assert report["failures"] == []
    assert report["covered"] == report["total"]


def test_rls_check_all_covers_the_control_plane(cli: Cli) -> None:
    result = cli("rls", "check", "--all", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["percent"] == 100
    assert report["covered"] == report["total"] >= 8  # the public.ipai_* control-plane tables


def test_rls_check_refuses_an_unmigrated_database(fresh_url: str, data_dir: Path) -> None:
    run = _cli_for(fresh_url, data_dir)

    result = run("rls", "check")
    every_schema = run("rls", "check", "--all")

    _assert_clean_failure(result)
    assert "ipai migrate" in result.stderr
    _assert_clean_failure(every_schema)


def test_rls_check_notes_when_no_gold_object_exists_yet(fresh_url: str, data_dir: Path) -> None:
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ipai_gold_core")

    result = _cli_for(fresh_url, data_dir)("rls", "check")

    assert result.returncode == 0, result.stderr
    assert "(0/0 objects)" in result.stdout
    assert "note: no gold/platinum tables or views exist yet" in result.stdout


def test_rls_check_fails_on_a_gold_table_without_rls(
    fresh_cli: Cli, fresh_owner: psycopg.Connection
) -> None:
    fresh_owner.execute("CREATE TABLE ipai_gold_core.cli_unprotected (id int)")
    try:
        result = fresh_cli("rls", "check")
        as_json = fresh_cli("rls", "check", "--json")
    finally:
        fresh_owner.execute("DROP TABLE ipai_gold_core.cli_unprotected")

    _assert_clean_failure(result)
    assert "ipai_gold_core.cli_unprotected" in result.stderr
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["percent"] < 100


def test_rls_check_all_fails_on_a_control_plane_table_without_rls(
    fresh_cli: Cli, fresh_owner: psycopg.Connection
) -> None:
    fresh_owner.execute("CREATE TABLE public.ipai_cli_unprotected (id int)")
    try:
        gold_only = fresh_cli("rls", "check")
        every_schema = fresh_cli("rls", "check", "--all")
    finally:
        fresh_owner.execute("DROP TABLE public.ipai_cli_unprotected")

    assert gold_only.returncode == 0, gold_only.stderr
    _assert_clean_failure(every_schema)
    assert "public.ipai_cli_unprotected" in every_schema.stderr


def test_spec_check_passes(cli: Cli) -> None:
    result = cli("spec", "check")

    assert result.returncode == 0, result.stderr
    assert "spec kit complete" in result.stdout


# -- users ------------------------------------------------------------------------------------


def _listed(run: Cli) -> dict[str, list[str]]:
    result = run("users", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {user["email"]: user["roles"] for user in json.loads(result.stdout)}


def test_users_add_list_grant_and_refuse_a_duplicate(fresh_cli: Cli) -> None:
    with_password = {"IPAI_NEW_USER_PASSWORD": PASSWORD}

    added = fresh_cli(
        "users", "add", "x@example.test", "--role", "finance", extra_env=with_password
    )

    assert added.returncode == 0, added.stderr
    assert _listed(fresh_cli)["x@example.test"] == ["finance"]

    granted = fresh_cli("users", "grant", "x@example.test", "analyst")

    assert granted.returncode == 0, granted.stderr
    assert _listed(fresh_cli)["x@example.test"] == ["analyst", "finance"]

    again = fresh_cli("users", "add", "x@example.test", extra_env=with_password)

    _assert_clean_failure(again)
    assert "x@example.test" in again.stderr
    assert _listed(fresh_cli)["x@example.test"] == ["analyst", "finance"]


def test_users_add_refuses_a_bad_role_name(fresh_cli: Cli) -> None:
    result = fresh_cli(
        "users",
        "add",
        "y@example.test",
        "--role",
        "Bad Role",
        extra_env={"IPAI_NEW_USER_PASSWORD": PASSWORD},
    )

    _assert_clean_failure(result)
    assert "y@example.test" not in _listed(fresh_cli)
