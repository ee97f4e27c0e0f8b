"""A database drawn the way Supabase draws its own, on a plain PostgreSQL server (the CI machine's
PostgreSQL 15), to prove the product needs no more privilege than Supabase gives.

What it mirrors (Supabase's `postgres` image: its init scripts and later role migrations):
- the connecting role (`postgres` there, a fresh `ipai_sb_*` role here) is NOSUPERUSER with
  CREATEDB, CREATEROLE, REPLICATION and BYPASSRLS, a member of `anon`, `authenticated` and
  `service_role`, and the owner of the database;
- `auth` belongs to `supabase_auth_admin`: `auth.users` has Supabase's columns and **no default
  for `id`**; the connecting role has ALL on the auth tables, `service_role` has none;
- `auth.uid()`, `auth.role()`, `auth.email()`, `auth.jwt()` read the request claims as
  Supabase's do; the API roles have USAGE on `auth`.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

_CLUSTER_ROLES = """
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
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator NOINHERIT LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
    CREATE ROLE supabase_auth_admin NOINHERIT CREATEROLE LOGIN NOREPLICATION;
  END IF;
END
$$;
GRANT anon, authenticated, service_role TO authenticator;
"""

_AUTH_SCHEMA = """
CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
CREATE TABLE auth.users (
    instance_id uuid NULL,
    id uuid NOT NULL UNIQUE,
    aud varchar(255) NULL,
    "role" varchar(255) NULL,
    email varchar(255) NULL UNIQUE,
    encrypted_password varchar(255) NULL,
    email_confirmed_at timestamptz NULL,
    invited_at timestamptz NULL,
    confirmation_token varchar(255) NULL,
    confirmation_sent_at timestamptz NULL,
    recovery_token varchar(255) NULL,
    recovery_sent_at timestamptz NULL,
    last_sign_in_at timestamptz NULL,
    raw_app_meta_data jsonb NULL,
    raw_user_meta_data jsonb NULL,
    is_super_admin bool NULL,
    created_at timestamptz NULL,
    updated_at timestamptz NULL,
    phone text NULL UNIQUE DEFAULT NULL,
    banned_until timestamptz NULL,
    is_sso_user boolean NOT NULL DEFAULT false,
    deleted_at timestamptz NULL,
    is_anonymous boolean NOT NULL DEFAULT false,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
$$;
CREATE OR REPLACE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'))::text
$$;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.email() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.jwt() OWNER TO supabase_auth_admin;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
"""


@dataclass(frozen=True)
class SupabaseLikeDatabase:
    name: str
    owner: str
    owner_url: str  # what IPAI_DATABASE_URL is on Supabase: the non-superuser owner
    superuser_url: str  # the test's own, for setup, inspection and clean-up only


def create(server_url: str) -> SupabaseLikeDatabase:
    """A fresh database and owner role on the server at `server_url` (a superuser's URL)."""
    suffix = secrets.token_hex(4)
    name, owner = f"ipai_sb_{suffix}", f"ipai_sb_owner_{suffix}"
    with psycopg.connect(server_url, autocommit=True) as su:
        su.execute(_CLUSTER_ROLES)
        su.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE REPLICATION BYPASSRLS"
            ).format(sql.Identifier(owner))
        )
        su.execute(
            sql.SQL("GRANT anon, authenticated, service_role TO {}").format(sql.Identifier(owner))
        )
        su.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    database_su = _with(server_url, dbname=name)
    with psycopg.connect(database_su, autocommit=True) as su:
        su.execute(_AUTH_SCHEMA)
        owner_id = sql.Identifier(owner)
        su.execute(sql.SQL("GRANT USAGE ON SCHEMA auth TO {}").format(owner_id))
        su.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA auth TO {}").format(owner_id))
        su.execute(sql.SQL("GRANT ALL ON ALL ROUTINES IN SCHEMA auth TO {}").format(owner_id))
    return SupabaseLikeDatabase(
        name, owner, _with(server_url, dbname=name, user=owner), database_su
    )


def drop(server_url: str, db: SupabaseLikeDatabase) -> None:
    """Drop the database, and the owner role where nothing else in the cluster still needs it."""
    with psycopg.connect(server_url, autocommit=True) as su:
        su.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name))
        )
        # It may have granted roles others still hold; an empty role left behind is harmless.
        with contextlib.suppress(psycopg.errors.DependentObjectsStillExist):
            su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(db.owner)))


def _with(url: str, **changes: str) -> str:
    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    if "user" in changes:
        params.pop("password", None)  # trust auth on the test server; never the superuser's
    params.update(changes)
    return make_conninfo(**params)
