"""`ipai users add|list|grant|revoke|passwd`: local users and their application roles."""

from __future__ import annotations

import dataclasses

import typer

from ipai_core.auth import users
from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.lakehouse import Lakehouse

app = typer.Typer(
    help="Local users and their roles (admin, finance, data_engineer, …).", no_args_is_help=True
)

PASSWORD_OPTION = typer.Option(
    ...,
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="IPAI_NEW_USER_PASSWORD",
    help="Prompted for when omitted (or IPAI_NEW_USER_PASSWORD).",
)


ROLE_OPTION = typer.Option([], "--role", "-r", help="Application role; repeatable.")
ROLES_TO_ADD = typer.Argument(..., help="Roles to add.")
ROLES_TO_REMOVE = typer.Argument(..., help="Roles to remove.")


@app.command()
def add(
    email: str,
    password: str = PASSWORD_OPTION,
    role: list[str] = ROLE_OPTION,
) -> None:
    """Create a local user."""
    with Lakehouse.open() as lh:
        user = users.add_user(lh.db, email, password, role)
    typer.echo(f"created {user.email} ({user.id}) with roles: {', '.join(user.roles) or 'none'}")


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List users with their roles."""
    with Lakehouse.open() as lh:
        records = users.list_users(lh.db)
    if as_json:
        emit_json([dataclasses.asdict(r) for r in records])
        return
    emit_table(
        ["email", "roles", "local password", "last sign-in", "id"],
        [
            (
                r.email,
                ",".join(r.roles),
                "yes" if r.has_password else "no",
                r.last_sign_in_at or "never",
                r.id,
            )
            for r in records
        ],
    )


@app.command()
def grant(email: str, roles: list[str] = ROLES_TO_ADD) -> None:
    """Give a user application roles (effective at their next sign-in)."""
    with Lakehouse.open() as lh:
        user = users.grant_roles(lh.db, email, roles)
    typer.echo(f"{user.email} now has roles: {', '.join(user.roles)}")


@app.command()
def revoke(email: str, roles: list[str] = ROLES_TO_REMOVE) -> None:
    """Take application roles away from a user."""
    with Lakehouse.open() as lh:
        user = users.grant_roles(lh.db, email, roles, revoke=True)
    typer.echo(f"{user.email} now has roles: {', '.join(user.roles) or 'none'}")


@app.command()
def passwd(email: str, password: str = PASSWORD_OPTION) -> None:
    """Set a local user's password (also unlocks the account)."""
    with Lakehouse.open() as lh:
        users.set_password(lh.db, email, password)
    typer.echo(f"password set for {email}")
