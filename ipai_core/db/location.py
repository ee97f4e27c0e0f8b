"""Which PostgreSQL we talk to: `IPAI_DATABASE_URL`, or the embedded server (started on demand),
and how a connection failure to it is reported (one message, the password never in it).

`database_url` is the *owner's* URL (the role that runs migrations): `IPAI_DATABASE_URL` as given,
or the embedded server's `ipai_owner`. Requests never use it; they sign in as a login role
(`ipai_core.db.logins`)."""

from __future__ import annotations

import psycopg

from ipai_core.db.bootstrap import bootstrap
from ipai_core.db.embedded import EmbeddedServer
from ipai_core.errors import DatabaseError
from ipai_core.settings import Settings

EMBEDDED_DATABASE = "ipai"
CONNECT_TIMEOUT_S = 5


def embedded_server(settings: Settings) -> EmbeddedServer:
    return EmbeddedServer(settings.embedded_dir, preferred_port=settings.embedded_port)


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The owner's URL of the workspace database.

    With `IPAI_DATABASE_URL` unset, this starts the embedded server when needed (`start=True`) and
    makes sure its owner role and `ipai` database exist (`bootstrap`); the configured URL is
    returned untouched otherwise.
    """
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    server = embedded_server(settings)
    status = server.start() if start else server.status()
    return bootstrap(status, EMBEDDED_DATABASE)


def superuser_url(settings: Settings) -> str | None:
    """The embedded server's superuser URL (for the privileged pieces of `ipai migrate`), or
    None with `IPAI_DATABASE_URL`: there, the configured role is all we have."""
    if settings.database_url is not None:
        return None
    return embedded_server(settings).start().url(EMBEDDED_DATABASE)


def admin_connection(settings: Settings) -> psycopg.Connection:
    """An autocommit connection as the configured (owner) user, for migrations and checks."""
    return connect(database_url(settings), autocommit=True)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A direct connection that fails within `CONNECT_TIMEOUT_S` with a `DatabaseError`."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        raise DatabaseError(
            f"cannot connect to the database at `{redacted_url(url)}`: {_one_line(exc)}. "
            "Check that the server is running and reachable (`ipai db status`) and that "
            "IPAI_DATABASE_URL names the right host, port, user and password"
        ) from exc


def check_reachable(url: str) -> None:
    """Connect once and disconnect; raises `DatabaseError` at once when that fails."""
    with connect(url):
        pass


def redacted_url(url: str) -> str:
    """The connection string without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable connection string>"
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items() if v is not None})


def location_label(url: str) -> str:
    """`host:port/dbname` of a connection string — never the user name or password."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    host = str(info.get("host") or "localhost")
    port = str(info.get("port") or 5432)
    return f"{host}:{port}/{info.get('dbname') or ''}"


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()).rstrip(".?") or type(exc).__name__
