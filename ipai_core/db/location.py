"""Which PostgreSQL we talk to: `IPAI_DATABASE_URL`, or the embedded server (started on demand)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ipai_core.db.embedded import EmbeddedServer
from ipai_core.settings import Settings

EMBEDDED_DATABASE = "ipai"


def embedded_server(settings: Settings) -> EmbeddedServer:
    return EmbeddedServer(settings.embedded_dir, preferred_port=settings.embedded_port)


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The URL of the workspace database.

    With `IPAI_DATABASE_URL` unset, this starts the embedded server when needed (`start=True`) and
    makes sure its `ipai` database exists; the configured URL is returned untouched otherwise.
    """
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    server = embedded_server(settings)
    status = server.start() if start else server.status()
    _ensure_database(status.url("postgres"), EMBEDDED_DATABASE)
    return status.url(EMBEDDED_DATABASE)


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def admin_connection(settings: Settings) -> psycopg.Connection:
    """An autocommit connection as the configured (owner) user, for migrations and checks."""
    return psycopg.connect(database_url(settings), autocommit=True)
