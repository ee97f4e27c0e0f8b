"""User management on `auth.users` as Supabase defines it (issue 16, point 3 — its user part):
`service_role` has no grant on the table, `id` has no default, and an older Supabase lacks
`deleted_at`, `banned_until`, `is_anonymous` and `is_sso_user` (while a newer one has a generated
`confirmed_at`). Users are created, changed, signed in and deleted all the same, through
SECURITY DEFINER functions only the service role may call; a duplicate e-mail is one line.

On the CI machine's PostgreSQL 15 with a non-superuser owner (`tests/support/supabase_like`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import MIGRATIONS, TEST_JWT_SECRET, make_settings

from ipai_core import Lakehouse, Principal
from ipai_core.auth import users
from ipai_core.auth.claims import company_scope
from ipai_core.errors import AccessDenied, ConfigError, InvalidToken
from tests.support import supabase_like
from tests.support.pg15 import PG15_MARKS, PG15_URL

# Columns our shim has that an older Supabase `auth.users` lacks; and one a newer one computes.
LATER_COLUMNS = ("deleted_at", "banned_until", "is_anonymous", "is_sso_user")
OLDER_SUPABASE = (
    "ALTER TABLE auth.users "
    + ", ".join(f"DROP COLUMN {c}" for c in LATER_COLUMNS)
    + ", ADD COLUMN confirmed_at timestamptz GENERATED ALWAYS AS (email_confirmed_at) STORED"
)
SERVICE_ONLY = (
    "ipai_users(text)",
    "ipai_user_for_sign_in(text)",
    "ipai_user_signed_in(uuid, jsonb)",
    "ipai_user_create(text, text[])",
    "ipai_user_grant_roles(uuid, text[])",
    "ipai_user_revoke_roles(uuid, text[])",
    "ipai_user_grant_companies(uuid, bigint[])",
    "ipai_user_revoke_companies(uuid, bigint[])",
    "ipai_user_revoke_sessions(uuid, text)",
    "ipai_user_delete(uuid)",
)


pytestmark = [*PG15_MARKS, pytest.mark.slow]


@pytest.fixture(scope="module")
def supabase_db(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[supabase_like.SupabaseLikeDatabase]:
    db = supabase_like.create(PG15_URL)
    try:
        with psycopg.connect(db.superuser_url, autocommit=True) as su:
            su.execute(OLDER_SUPABASE)
        _ipai(db, tmp_path_factory.mktemp("sb-migrate"), "migrate")
        with psycopg.connect(db.superuser_url, autocommit=True) as su:
            su.execute(
                "INSERT INTO ipai_bronze_erp.res_company (id, name) VALUES (1, 'One'), (2, 'Two')"
            )
        yield db
    finally:
        supabase_like.drop(PG15_URL, db)


@pytest.fixture(scope="module")
def lh(
    supabase_db: supabase_like.SupabaseLikeDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lakehouse]:
    settings = make_settings(supabase_db.owner_url, tmp_path_factory.mktemp("sb-data"))
    with Lakehouse.open(settings) as lakehouse:
        yield lakehouse


def test_users_are_managed_without_any_grant_on_auth_users(
    supabase_db: supabase_like.SupabaseLikeDatabase, lh: Lakehouse
) -> None:
    with psycopg.connect(supabase_db.superuser_url) as su:
        granted = su.execute(
            "SELECT has_table_privilege('service_role', 'auth.users', 'SELECT'),"
            " has_table_privilege('service_role', 'auth.users', 'INSERT'),"
            " (SELECT column_default FROM information_schema.columns"
            "   WHERE table_schema = 'auth' AND table_name = 'users' AND column_name = 'id')"
        ).fetchone()
    assert granted == (False, False, None)

    created = users.add_user(lh.db, "fin@example.test", "long-enough-pw", ["finance", "analyst"])
    assert users.grant_companies(lh.db, created.email, [2]).company_ids == (2,)
    token = users.sign_in(lh.db, lh.tokens, created.email, "long-enough-pw")
    me = lh.authenticate(token)
    assert (me.user_id, me.roles) == (created.id, ("analyst", "finance"))
    assert company_scope(me.claims) == (2,)
    users.grant_roles(lh.db, created.email, ["analyst"], revoke=True)
    assert lh.authenticate(token).roles == ("finance",)
    assert created.email in [u.email for u in users.list_users(lh.db)]

    with psycopg.connect(supabase_db.superuser_url) as su:
        row = su.execute(
            "SELECT instance_id::text, aud, role, confirmation_token, recovery_token,"
            " confirmed_at IS NOT NULL, raw_app_meta_data -> 'company_ids'"
            " FROM auth.users WHERE id = %s",
            [created.id],
        ).fetchone()
    # what Supabase Auth (GoTrue) needs to list the account: no NULL in its string columns
    nil = "00000000-0000-0000-0000-000000000000"
    assert row == (nil, "authenticated", "authenticated", "", "", True, [2])

    users.delete_user(lh.db, created.email)
    with pytest.raises(InvalidToken):
        lh.authenticate(token)
    assert created.email not in [u.email for u in users.list_users(lh.db)]


def test_a_duplicate_email_is_one_line_not_a_traceback(
    supabase_db: supabase_like.SupabaseLikeDatabase, lh: Lakehouse, tmp_path: Path
) -> None:
    users.add_user(lh.db, "twice@example.test", "long-enough-pw", [])
    with pytest.raises(ConfigError, match="already exists"):
        users.add_user(lh.db, "Twice@Example.test", "long-enough-pw", [])
    password = {"IPAI_NEW_USER_PASSWORD": "long-enough-pw"}
    result = _ipai(
        supabase_db, tmp_path, "users", "add", "twice@example.test", check=False, extra=password
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: a user `twice@example.test` already exists; use `ipai users grant` or "
        "`ipai users passwd` to change it"
    ]


def test_the_user_functions_run_as_their_owner_for_the_service_role_only(
    supabase_db: supabase_like.SupabaseLikeDatabase, lh: Lakehouse
) -> None:
    with psycopg.connect(supabase_db.superuser_url) as su:
        for signature in SERVICE_ONLY:
            fn = f"public.{signature}"
            facts = su.execute(
                "SELECT pg_get_userbyid(p.proowner), p.prosecdef, p.proconfig,"
                " has_function_privilege('service_role', p.oid, 'EXECUTE'),"
                " has_function_privilege('authenticated', p.oid, 'EXECUTE'),"
                " has_function_privilege('anon', p.oid, 'EXECUTE'),"
                " EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)"  # PUBLIC
                " FROM pg_proc p WHERE p.oid = %s::regprocedure",
                [fn],
            ).fetchone()
            owned = (supabase_db.owner, True, ["search_path=pg_catalog, public"])
            assert facts == (*owned, True, False, False, False), fn
    _, _, token = _user(lh, ["admin"])
    admin = lh.authenticate(token)  # even an admin's own session may not call them directly
    with pytest.raises(AccessDenied):
        lh.query(admin, "SELECT public.ipai_user_create('sneaky@example.test', ARRAY['admin'])")
    with lh.session(Principal.service("test: nothing written")) as s:
        assert s.scalar("SELECT count(*) FROM public.ipai_users('sneaky@example.test')") == 0


def _user(lh: Lakehouse, roles: list[str]) -> tuple[str, str, str]:
    email = f"probe-{'-'.join(roles)}@example.test"
    users.add_user(lh.db, email, "long-enough-pw", roles)
    return email, "long-enough-pw", users.sign_in(lh.db, lh.tokens, email, "long-enough-pw")


def _ipai(
    db: supabase_like.SupabaseLikeDatabase,
    data_dir: Path,
    *args: str,
    check: bool = True,
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATABASE_URL": db.owner_url,
        "IPAI_DATA_DIR": str(data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
        "IPAI_MIGRATIONS_DIR": str(MIGRATIONS),
        "IPAI_TELEMETRY_TO_POSTGRES": "false",
        **(extra or {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ipai_core.cli", *args],
        env=env,
        cwd=data_dir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done
