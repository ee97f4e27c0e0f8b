"""Shared fixtures: one embedded PostgreSQL for the session, a migrated database, settings that
point at it, and helpers to create users. Nothing here mocks Postgres.

Databases are set up as the product sets up its own: owned by the non-superuser `ipai_owner`,
which runs the migrations (the superuser only prepares each database and applies the privileged
pieces), and every `Lakehouse` signs in as the login roles."""

from __future__ import annotations

import itertools
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ipai_core.db.bootstrap import create_owned_database, owner_url
from ipai_core.db.embedded import EmbeddedServer, ServerStatus
from ipai_core.demo.load import load_demo
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.runner import migrate
from ipai_core.settings import PROJECT_ROOT, Settings
from tests.support.users import new_user

MIGRATIONS = PROJECT_ROOT / "migrations"
TEST_JWT_SECRET = "test-secret-" + "s" * 40
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ServerStatus]:
    """The session's server lives outside pytest's temp root: pytest resets that root to 0700
    whenever a pytest session starts, which would lock the server's own user out of its data."""
    folder = Path(tempfile.mkdtemp(prefix="ipai-test-pg-"))
    server = EmbeddedServer(folder, preferred_port=55432)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(pg_server: ServerStatus) -> Callable[[], str]:
    """Creates an empty database on the test server, owned by `ipai_owner`, and returns the
    owner's URL."""

    def create() -> str:
        name = f"t_{next(_counter)}_{secrets.token_hex(3)}"
        create_owned_database(pg_server, name)
        return owner_url(pg_server, name)

    return create


@pytest.fixture(scope="session")
def migrate_database(pg_server: ServerStatus) -> Callable[[str], None]:
    """Applies every migration to a database of the test server, as `ipai migrate` does."""

    def run(url: str) -> None:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with (
            psycopg.connect(url, autocommit=True) as conn,
            psycopg.connect(pg_server.url(str(name)), autocommit=True) as superuser,
        ):
            migrate(conn, MIGRATIONS, privileged=superuser)

    return run


@pytest.fixture(scope="session")
def database_url(new_database: Callable[[], str], migrate_database: Callable[[str], None]) -> str:
    """A database with every migration applied, shared by the session."""
    url = new_database()
    migrate_database(url)
    return url


@pytest.fixture(scope="session")
def superuser_url(pg_server: ServerStatus, database_url: str) -> str:
    """The test server's superuser on the shared database: only for inspecting what the owner
    may not see (the product never signs in as it after bootstrap)."""
    return pg_server.url(str(psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]))


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database_url, tmp_path_factory.mktemp("data"))


def make_settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret=TEST_JWT_SECRET,
        migrations_dir=MIGRATIONS,
    )


@pytest.fixture(scope="session")
def lakehouse(settings: Settings) -> Iterator[Lakehouse]:
    with Lakehouse.open(settings) as lh:
        yield lh


@pytest.fixture
def owner_conn(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection as the database owner (`ipai_owner`, not a superuser), for
    setup and inspection."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


UserMaker = Callable[..., tuple[str, str, str]]


@pytest.fixture
def make_user(lakehouse: Lakehouse) -> UserMaker:
    """`make_user(["finance"])` → (email, password, token) of a new local user."""

    def make(roles: list[str] | tuple[str, ...] = ()) -> tuple[str, str, str]:
        email = f"user{next(_counter)}-{secrets.token_hex(3)}@example.test"
        user = new_user(lakehouse, roles, email=email)
        return user.email, user.password, user.token

    return make


DEMO_TODAY = date(2026, 11, 1)


@pytest.fixture(scope="session")
def demo_lakehouse(
    new_database: Callable[[], str],
    migrate_database: Callable[[str], None],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lakehouse]:
    """A database of its own with the whole demo loaded through the real connectors (other
    tests sync into the same bronze tables of the shared database)."""
    url = new_database()
    migrate_database(url)
    with Lakehouse.open(make_settings(url, tmp_path_factory.mktemp("demo"))) as lh:
        report = load_demo(lh, today=DEMO_TODAY)
        assert report.ok, [r.error for r in report.runs]
        yield lh
