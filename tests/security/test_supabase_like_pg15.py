"""`ipai migrate` and `ipai up --no-serve` on a database drawn like Supabase's (the CI machine's
PostgreSQL 15, a non-superuser owner, Supabase's `auth` schema): everything applies, the one
thing such a role may not create (event triggers) is skipped with one warning, and requests
still sign in as the login role."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import MIGRATIONS, TEST_JWT_SECRET, make_settings

from ipai_core import Lakehouse
from ipai_core.auth import users
from ipai_core.db.logins import USERS_LOGIN
from ipai_core.migrate.privileged import LOST_WITHOUT_EVENT_TRIGGERS
from ipai_core.migrate.runner import discover
from tests.support import supabase_like
from tests.support.pg15 import PG15_MARKS, PG15_URL

pytestmark = [*PG15_MARKS, pytest.mark.slow]


@pytest.fixture(scope="module")
def supabase_db() -> Iterator[supabase_like.SupabaseLikeDatabase]:
    db = supabase_like.create(PG15_URL)
    yield db
    supabase_like.drop(PG15_URL, db)


def _ipai(db: supabase_like.SupabaseLikeDatabase, data_dir: Path, *args: str) -> str:
    env = {
        **os.environ,
        "IPAI_DATABASE_URL": db.owner_url,
        "IPAI_DATA_DIR": str(data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
        "IPAI_MIGRATIONS_DIR": str(MIGRATIONS),
        "IPAI_TELEMETRY_TO_POSTGRES": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ipai_core.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def outputs(
    supabase_db: supabase_like.SupabaseLikeDatabase, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """What `ipai migrate`, then `ipai up --no-serve` (migrations again, demo admin, demo data
    through the connectors, apps) printed."""
    data_dir = tmp_path_factory.mktemp("supabase-like")
    return {
        "migrate": _ipai(supabase_db, data_dir, "migrate"),
        "up": _ipai(supabase_db, data_dir, "up", "--no-serve"),
    }


def test_the_owner_is_not_a_superuser(supabase_db: supabase_like.SupabaseLikeDatabase) -> None:
    with psycopg.connect(supabase_db.owner_url) as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False,)


def test_every_migration_applies_and_only_event_triggers_are_skipped_with_one_warning(
    outputs: dict[str, str], supabase_db: supabase_like.SupabaseLikeDatabase
) -> None:
    for command, output in outputs.items():
        warnings = [line for line in output.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, (command, output)
        assert "event triggers" in warnings[0] and LOST_WITHOUT_EVENT_TRIGGERS in warnings[0]
    with psycopg.connect(supabase_db.superuser_url) as su:
        applied = {r[0] for r in su.execute("SELECT version FROM ipai_migrations.applied")}
        assert applied == {m.version for m in discover(MIGRATIONS)}
        assert su.execute(
            "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'ipai%'"
        ).fetchone() == (0,)
        # Supabase's auth schema was used as it is: no shim, still the auth admin's.
        assert su.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'auth.users'::regclass"
        ).fetchone() == ("supabase_auth_admin",)
        assert su.execute(
            "SELECT has_table_privilege('service_role', 'auth.users', 'SELECT')"
        ).fetchone() == (False,)


def test_the_demo_admin_signs_in_and_requests_run_as_the_login_role(
    outputs: dict[str, str], supabase_db: supabase_like.SupabaseLikeDatabase, tmp_path: Path
) -> None:
    assert "demo admin created" in outputs["up"]
    settings = make_settings(supabase_db.owner_url, tmp_path)
    with Lakehouse.open(settings) as lh:
        listed = {u.email: u for u in users.list_users(lh.db)}
        assert "admin@ipai.local" in listed
        email, password = "analyst@example.test", "long-enough-password"
        users.add_user(lh.db, email, password, ["finance"])
        me = lh.authenticate(users.sign_in(lh.db, lh.tokens, email, password))
        row = lh.query(
            me, "SELECT session_user::text AS login, current_user::text AS role, auth.uid() AS u"
        ).row(0)
        assert row == (USERS_LOGIN, "authenticated", me.user_id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), lh.session(me) as s:
            s.connection.execute("SELECT set_config('role', %s, true)", [supabase_db.owner])
        gold = lh.query(me, "SELECT count(*) AS n FROM ipai_gold_erp.profit_and_loss")
        assert gold["n"][0] > 0  # the demo loaded through the connectors, readable under RLS
