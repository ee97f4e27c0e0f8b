"""Applies the Supabase shim on plain PostgreSQL, and recognises a real Supabase database.

The shim marks the `auth` schema with a comment carrying its own checksum: a database whose `auth`
schema lacks that marker is Supabase (left alone); one with the current checksum is up to date.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import psycopg
from psycopg import sql

SHIM_MARKER = "ipai supabase shim"


def shim_sql() -> str:
    return resources.files("ipai_core.migrate").joinpath("supabase_shim.sql").read_text()


def _auth_comment(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "SELECT coalesce(obj_description(oid, 'pg_namespace'), '')"
        " FROM pg_namespace WHERE nspname = 'auth'"
    ).fetchone()
    return None if row is None else str(row[0])


def is_supabase(conn: psycopg.Connection) -> bool:
    """True when `auth` exists and was not created by our shim: Supabase manages it there."""
    comment = _auth_comment(conn)
    return comment is not None and not comment.startswith(SHIM_MARKER)


def _marker(text: str) -> str:
    return f"{SHIM_MARKER} {hashlib.sha256(text.encode()).hexdigest()[:16]}"


def shim_needed(conn: psycopg.Connection) -> bool:
    """True when `apply_shim` would run: no `auth` schema yet, or one from an older shim.

    Reads the catalog only, so `migrate --dry-run` can report it without writing anything.
    """
    comment = _auth_comment(conn)
    if comment is None:
        return True
    return comment.startswith(SHIM_MARKER) and comment != _marker(shim_sql())


def apply_shim(conn: psycopg.Connection) -> bool:
    """Create roles and `auth.*` where Supabase is absent; returns whether the shim ran now."""
    if not shim_needed(conn):
        return False
    text = shim_sql()
    marker = _marker(text)
    with conn.transaction():
        # Roles are cluster-wide: serialise concurrent bootstraps of sibling databases.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('ipai_supabase_shim'))")
        conn.execute(text)  # trusted file shipped with the package
        conn.execute(sql.SQL("COMMENT ON SCHEMA auth IS {}").format(sql.Literal(marker)))
    return True
