"""`ipai bi credentials add|list|rotate|revoke` and `ipai bi sync`: Postgres logins for BI tools.

Admin commands: they run on the owner's connection (`admin_connection`). A password is printed
once, by `add` or `rotate`, inside a ready connection string; it is stored nowhere, and `list`
shows the connection string without it.
"""

from __future__ import annotations

import dataclasses

import typer

from ipai_core.bi import (
    AUTH_METHODS,
    ConnectionAddress,
    IssuedCredential,
    LoginLimits,
    add_credential,
    address_of,
    auth_method,
    get_credential,
    list_credentials,
    revoke_credential,
    rotate_credential,
    sync_grants,
)
from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.db.location import admin_connection, database_url
from ipai_core.settings import get_settings

app = typer.Typer(
    help="BI tools (Superset, Metabase): read-only Postgres logins on gold and platinum.",
    no_args_is_help=True,
)
credentials_app = typer.Typer(
    help="One login per person: their roles and company scope, read live on every query.",
    no_args_is_help=True,
)
app.add_typer(credentials_app, name="credentials")

DEFAULTS = LoginLimits()
NAME_ARGUMENT = typer.Argument(..., help="Credential name (login role ipai_bi_<name>).")
FOR_OPTION = typer.Option(..., "--for", help="E-mail of the person whose access it carries.")
AUTH_OPTION = typer.Option(
    "password", "--auth", help=f"How the tool signs in: {' or '.join(AUTH_METHODS)}."
)
TIMEOUT_OPTION = typer.Option(
    DEFAULTS.statement_timeout_ms, "--statement-timeout-ms", help="statement_timeout of the login."
)
LIMIT_OPTION = typer.Option(
    DEFAULTS.connection_limit, "--connection-limit", help="Most connections the login may hold."
)
SSLMODE_OPTION = typer.Option(
    None, "--sslmode", help="sslmode to print (default: the workspace URL's, else by host)."
)
YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


@credentials_app.command()
def add(
    name: str = NAME_ARGUMENT,
    email: str = FOR_OPTION,
    auth: str = AUTH_OPTION,
    statement_timeout_ms: int = TIMEOUT_OPTION,
    connection_limit: int = LIMIT_OPTION,
    sslmode: str | None = SSLMODE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a BI login for one person; prints its password once, in a connection string."""
    method = auth_method(auth)
    limits = LoginLimits(
        statement_timeout_ms=statement_timeout_ms, connection_limit=connection_limit
    )
    settings = get_settings()
    with admin_connection(settings) as conn:
        issued = add_credential(conn, name, email, auth_method=method, limits=limits)
    _show_issued("created", issued, address_of(database_url(settings), sslmode=sslmode), as_json)


@credentials_app.command("list")
def list_(sslmode: str | None = SSLMODE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List BI credentials: whose, state, open sessions, connection string (no password)."""
    settings = get_settings()
    with admin_connection(settings) as conn:
        credentials = list_credentials(conn)
    address = address_of(database_url(settings), sslmode=sslmode)
    if as_json:
        emit_json(
            [
                {**dataclasses.asdict(c), "active": c.active, "url": address.url(c.login_role)}
                for c in credentials
            ]
        )
        return
    emit_table(
        ["name", "for", "login role", "auth", "state", "sessions", "created", "connection"],
        [
            (
                c.name,
                c.email or c.user_id,
                c.login_role,
                c.auth_method,
                "active" if c.active else f"revoked {c.revoked_at:%Y-%m-%d %H:%M}",
                c.open_sessions,
                f"{c.created_at:%Y-%m-%d %H:%M}",
                address.url(c.login_role),
            )
            for c in credentials
        ],
    )


@credentials_app.command()
def rotate(
    name: str = NAME_ARGUMENT,
    sslmode: str | None = SSLMODE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A new password (printed once); the old one and its open sessions stop working."""
    settings = get_settings()
    with admin_connection(settings) as conn:
        issued = rotate_credential(conn, name)
    _show_issued("rotated", issued, address_of(database_url(settings), sslmode=sslmode), as_json)


@credentials_app.command()
def revoke(name: str = NAME_ARGUMENT, yes: bool = YES_OPTION) -> None:
    """Revoke for good: the login can no longer sign in, and its open sessions end now."""
    settings = get_settings()
    with admin_connection(settings) as conn:
        credential = get_credential(conn, name)
        if not credential.active:
            typer.echo(f"BI credential `{name}` is already revoked")
            return
        if not yes:
            typer.confirm(f"revoke BI credential `{name}` of {credential.email}?", abort=True)
        revoke_credential(conn, name)
    typer.echo(f"revoked BI credential `{name}`: {credential.login_role} can no longer sign in")


@app.command()
def sync() -> None:
    """Re-derive what BI logins may read (after adding gold/platinum views)."""
    with admin_connection(get_settings()) as conn:
        changes = sync_grants(conn)
    typer.echo(f"BI grants in line with gold and platinum ({changes} changes)")


def _show_issued(
    verb: str, issued: IssuedCredential, address: ConnectionAddress, as_json: bool
) -> None:
    c, password = issued.credential, issued.password
    if as_json:
        emit_json(
            {
                "name": c.name,
                "login_role": c.login_role,
                "for": c.email,
                "auth_method": c.auth_method,
                "password": password,
                "url": address.url(c.login_role, password),
                "sqlalchemy_url": address.sqlalchemy_url(c.login_role, password),
            }
        )
        return
    typer.echo(f"{verb} BI credential `{c.name}` for {c.email} (login role {c.login_role})")
    if password is None:
        typer.echo(
            "no password: the server must accept a client certificate with CN " + c.login_role
        )
    else:
        typer.echo(f"password (shown once, stored nowhere): {password}")
    typer.echo(f"connection string: {address.url(c.login_role, password)}")
    typer.echo(f"Superset SQLAlchemy URI: {address.sqlalchemy_url(c.login_role, password)}")
    typer.echo(
        f"Metabase: host {address.host}, port {address.port}, database {address.dbname}, "
        f"user {address.user(c.login_role)}, sslmode {address.sslmode}"
    )
