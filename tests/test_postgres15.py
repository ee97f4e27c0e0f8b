"""The same migrations apply to a second PostgreSQL: the CI machine's PostgreSQL 15."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import MIGRATIONS, make_settings
from psycopg import sql

from ipai_core import Lakehouse, Principal
from ipai_core.auth import users
from ipai_core.migrate.check import check_migrations
from ipai_core.migrate.runner import migrate

PG15_URL = os.environ.get("IPAI_TEST_PG15_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _server_version() -> int | None:
    try:
        with psycopg.connect(PG15_URL, connect_timeout=3) as conn:
            return conn.info.server_version
    except psycopg.OperationalError:
        return None


VERSION = _server_version()
pytestmark = [
    pytest.mark.pg15,
    pytest.mark.skipif(
        VERSION is None,
        reason=f"no PostgreSQL answers at {PG15_URL} "
        "(the CI machine runs one; set IPAI_TEST_PG15_URL to use another)",
    ),
]


@pytest.fixture
def pg15_database() -> Iterator[str]:
    name = f"ipai_t15_{secrets.token_hex(4)}"
    with psycopg.connect(PG15_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(PG15_URL, dbname=name)
    yield url
    with psycopg.connect(PG15_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_migrate_check_passes_on_postgres_15() -> None:
    assert VERSION is not None and VERSION >= 150000
    report = check_migrations(PG15_URL, MIGRATIONS)
    assert report.second.applied == ()
    assert report.every_schema.percent == 100.0


def test_rls_scoping_works_on_postgres_15(pg15_database: str, tmp_path: Path) -> None:
    with psycopg.connect(pg15_database, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
    with Lakehouse.open(make_settings(pg15_database, tmp_path)) as lh:
        users.add_user(lh.db, "fin@example.test", "long-enough-pw", ["finance"])
        token = users.sign_in(lh.db, lh.tokens, "fin@example.test", "long-enough-pw")
        me = lh.authenticate(token)
        assert lh.query(me, "SELECT auth.uid()::text AS u")["u"][0] == me.user_id
        visible = lh.query(me, "SELECT count(*) AS n FROM public.ipai_connector_config")
        assert visible["n"][0] == 0
        with lh.session(Principal.service("test: pg15")) as s:
            assert s.scalar("SELECT current_user") == "service_role"
