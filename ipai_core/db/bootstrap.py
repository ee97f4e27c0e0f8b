"""What only the embedded server's superuser does, once per start: the owner role, the Supabase
API roles, the workspace database and its extensions. Nothing else ever signs in as it.

The owner (`ipai_owner`) is what `IPAI_DATABASE_URL` names on any other server — Supabase's
`postgres` — and gets the attributes Supabase gives that role but BYPASSRLS: NOSUPERUSER,
CREATEROLE (agent, login and BI roles), CREATEDB (`migrate check`'s scratch database),
REPLICATION (the workspace database as a CDC source), and membership with ADMIN OPTION in
`anon`, `authenticated` and `service_role` (which owns the bronze tables connectors create).
Migrations run as the owner; request sessions never do (`logins`). Its password is an HMAC of the
superuser's, so it is never stored.

A database created by an earlier version (everything owned by the superuser) is handed to the
owner here: the database, and each object in it the superuser owns outside the system schemas.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ipai_core.db.embedded import ServerStatus, superuser_password
from ipai_core.db.logins import scram_verifier

OWNER_ROLE = "ipai_owner"
API_ROLES = ("anon", "authenticated", "service_role")
EXTENSIONS = ("vector", "postgres_fdw")

_ROLES_SQL = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipai_owner') THEN
    CREATE ROLE ipai_owner LOGIN NOSUPERUSER INHERIT CREATEROLE CREATEDB REPLICATION;
  END IF;
END
$$;
ALTER ROLE ipai_owner NOSUPERUSER INHERIT CREATEROLE CREATEDB REPLICATION;
GRANT anon, authenticated, service_role TO ipai_owner WITH ADMIN TRUE, INHERIT TRUE, SET TRUE;
"""

# Hands the superuser's objects outside the system schemas to the owner (a database from an
# earlier version). Extensions' member objects stay with the extension's owner.
_HAND_OVER_SQL = """
DO $$
DECLARE
  su oid := (SELECT oid FROM pg_roles WHERE rolname = current_user);
  obj record;
BEGIN
  FOR obj IN
    SELECT format('ALTER SCHEMA %I OWNER TO ipai_owner', nspname) AS ddl
      FROM pg_namespace
     WHERE nspowner = su AND nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
    UNION ALL
    SELECT format('ALTER %s %s OWNER TO ipai_owner',
                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                 WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                 ELSE 'TABLE' END, c.oid::regclass)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relowner = su AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype IN ('e', 'i', 'a'))
    UNION ALL
    SELECT format('ALTER ROUTINE %s OWNER TO ipai_owner', p.oid::regprocedure)
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.proowner = su AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e')
    UNION ALL
    SELECT format('ALTER TYPE %s OWNER TO ipai_owner', t.oid::regtype)
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typowner = su AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0
       AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                          AND d.deptype = 'e')
  LOOP
    EXECUTE obj.ddl;
  END LOOP;
END
$$;
"""


def owner_url(status: ServerStatus, database: str) -> str:
    """The owner's URL for `database` on the embedded server (after `bootstrap`)."""
    params = conninfo_to_dict(status.url(database))
    params["user"] = OWNER_ROLE
    password = _owner_password(status)
    if password is None:
        params.pop("password", None)
    else:
        params["password"] = password
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def bootstrap(status: ServerStatus, database: str) -> str:
    """Make sure the owner role, the API roles, `database` (owned by the owner) and its
    extensions exist; returns the owner's URL. Cheap when everything is already there."""
    url = owner_url(status, database)
    if _ready(url):
        return url
    create_owned_database(status, database)
    return url


def create_owned_database(status: ServerStatus, database: str) -> None:
    """As the superuser: the roles, then `database` owned by the owner (created, or handed over
    when it exists), prepared with `prepare_database`."""
    with psycopg.connect(status.url("postgres"), autocommit=True) as su:
        su.execute("SELECT pg_advisory_lock(hashtext('ipai_bootstrap'))")
        try:
            su.execute(_ROLES_SQL)
            _set_owner_password(su, status)
            _ensure_database(su, database)
        finally:
            su.execute("SELECT pg_advisory_unlock(hashtext('ipai_bootstrap'))")
    prepare_database(status.url(database))


def prepare_database(superuser_url: str) -> None:
    """As the superuser in one database: the extensions, and the superuser's objects handed to
    the owner (also used by the tests for each database they create)."""
    with psycopg.connect(superuser_url, autocommit=True) as su, su.transaction():
        for extension in EXTENSIONS:
            available = su.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = %s", [extension]
            ).fetchone()
            if available:
                su.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
                )
        fdw = "SELECT 1 FROM pg_foreign_data_wrapper WHERE fdwname = 'postgres_fdw'"
        if su.execute(fdw).fetchone():
            su.execute("GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO ipai_owner")
        su.execute(_HAND_OVER_SQL)


def _ready(url: str) -> bool:
    """True when the owner signs in and owns the database (so nothing is left to do)."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba) = current_user FROM pg_database"
                " WHERE datname = current_database()"
            ).fetchone()
            return bool(row and row[0])
    except psycopg.OperationalError:
        return False


def _ensure_database(su: psycopg.Connection, database: str) -> None:
    name = sql.Identifier(database)
    if su.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
        su.execute(sql.SQL("ALTER DATABASE {} OWNER TO ipai_owner").format(name))
    else:
        su.execute(sql.SQL("CREATE DATABASE {} OWNER ipai_owner").format(name))


def _set_owner_password(su: psycopg.Connection, status: ServerStatus) -> None:
    password = _owner_password(status)
    if password is not None:  # a data dir initialised with trust auth has no passwords
        su.execute(
            sql.SQL("ALTER ROLE ipai_owner PASSWORD {}").format(
                sql.Literal(scram_verifier(su, OWNER_ROLE, password))
            )
        )


def _owner_password(status: ServerStatus) -> str | None:
    superuser = superuser_password(status.data_dir)
    if superuser is None:
        return None
    digest = hmac.new(superuser.encode(), b"ipai login:ipai_owner", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
