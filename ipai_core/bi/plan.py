"""The statements that make, re-key and describe a BI login role, decided as data before anything
runs (`credentials` executes them in one transaction). Pure: testable without a database."""

from __future__ import annotations

from psycopg import sql

from ipai_core.bi.model import GROUP_ROLE, LoginLimits

# PostgreSQL 16 added per-grant INHERIT/SET options (and ADMIN for a role's creator).
GRANT_OPTIONS_SINCE = 160_000


def create_login(
    role: str, *, verifier: str | None, limits: LoginLimits, server_version: int
) -> tuple[sql.Composed, ...]:
    """A LOGIN role with no attribute of its own, in `ipai_bi`, read-only by default, with its
    limits; and the owner made a member of it so it may end the role's sessions on revocation."""
    name = sql.Identifier(role)
    options = server_version >= GRANT_OPTIONS_SINCE
    return (
        sql.SQL(
            "CREATE ROLE {} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS CONNECTION LIMIT {} PASSWORD {}"
        ).format(name, sql.Literal(limits.connection_limit), _password(verifier)),
        # SET FALSE: the login cannot even `SET ROLE ipai_bi` (it has its privileges already).
        sql.SQL("GRANT {} TO {}{}").format(
            sql.Identifier(GROUP_ROLE),
            name,
            sql.SQL(" WITH INHERIT TRUE, SET FALSE" if options else ""),
        ),
        sql.SQL("GRANT {} TO CURRENT_USER{}").format(
            name, sql.SQL(" WITH INHERIT TRUE, SET FALSE" if options else "")
        ),
        *_settings(name, limits),
        sql.SQL("COMMENT ON ROLE {} IS {}").format(
            name, sql.Literal(f"IPAI BI login `{role}` (see public.ipai_bi_credential)")
        ),
    )


def set_password(role: str, verifier: str) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), _password(verifier))


def _settings(name: sql.Identifier, limits: LoginLimits) -> tuple[sql.Composed, ...]:
    values = {
        "statement_timeout": limits.statement_timeout_ms,
        "idle_in_transaction_session_timeout": limits.idle_in_transaction_timeout_ms,
        "default_transaction_read_only": "on",
    }
    return tuple(
        sql.SQL("ALTER ROLE {} SET {} = {}").format(
            name, sql.Identifier(setting), sql.Literal(str(value))
        )
        for setting, value in values.items()
    )


def _password(verifier: str | None) -> sql.Composable:
    return sql.SQL("NULL") if verifier is None else sql.Literal(verifier)
