"""`ipai users add|list|grant|revoke|grant-company|revoke-company|companies|sign-out|delete|passwd`:
local users, their application roles and company scopes. Every change is audited, and applies
from the user's next request on (tokens are checked against the database at each one)."""

from __future__ import annotations

import dataclasses

import typer

from ipai_core.auth import users
from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.errors import ConfigError
from ipai_core.lakehouse import Lakehouse

app = typer.Typer(
    help="Local users, their roles (admin, finance, data_engineer, …) and company scopes.",
    no_args_is_help=True,
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
COMPANIES_TO_ADD = typer.Argument(..., help="ERP company ids (`ipai users companies`).")
COMPANIES_TO_REMOVE = typer.Argument(None, help="ERP company ids to take away.")
ALL_COMPANIES = typer.Option(
    False, "--all", help="Lift the whole scope: every company the user's roles allow."
)
YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


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
    """List users with their roles and company scopes."""
    with Lakehouse.open() as lh:
        records = users.list_users(lh.db)
    if as_json:
        emit_json([dataclasses.asdict(r) for r in records])
        return
    emit_table(
        ["email", "roles", "companies", "local password", "last sign-in", "id"],
        [
            (
                r.email if r.active else f"{r.email} (disabled)",
                ",".join(r.roles),
                _companies(r.company_ids),
                "yes" if r.has_password else "no",
                r.last_sign_in_at or "never",
                r.id,
            )
            for r in records
        ],
    )


@app.command()
def grant(email: str, roles: list[str] = ROLES_TO_ADD) -> None:
    """Give a user application roles (effective at their next request)."""
    with Lakehouse.open() as lh:
        user = users.grant_roles(lh.db, email, roles)
    typer.echo(f"{user.email} now has roles: {', '.join(user.roles)}")


@app.command()
def revoke(email: str, roles: list[str] = ROLES_TO_REMOVE) -> None:
    """Take application roles away from a user (effective at their next request)."""
    with Lakehouse.open() as lh:
        user = users.grant_roles(lh.db, email, roles, revoke=True)
    typer.echo(f"{user.email} now has roles: {', '.join(user.roles) or 'none'}")


@app.command("grant-company")
def grant_company(email: str, company_ids: list[int] = COMPANIES_TO_ADD) -> None:
    """Limit a user's finance data to these ERP companies too (a user without a scope sees
    every company their roles allow until the first one is granted)."""
    with Lakehouse.open() as lh:
        user = users.grant_companies(lh.db, email, company_ids)
    typer.echo(f"{user.email} now sees companies: {_companies(user.company_ids)}")


@app.command("revoke-company")
def revoke_company(
    email: str,
    company_ids: list[int] | None = COMPANIES_TO_REMOVE,
    every: bool = ALL_COMPANIES,
) -> None:
    """Take ERP companies out of a user's scope (`--all` lifts the scope)."""
    if bool(company_ids) == every:
        raise ConfigError(
            "name the company ids to revoke, or pass --all to lift the whole scope (not both)"
        )
    with Lakehouse.open() as lh:
        user = users.revoke_companies(lh.db, email, None if every else company_ids)
    typer.echo(f"{user.email} now sees companies: {_companies(user.company_ids)}")


@app.command()
def companies(as_json: bool = JSON_OPTION) -> None:
    """The ERP companies a scope can name."""
    with Lakehouse.open() as lh:
        found = users.list_companies(lh.db)
    if as_json:
        emit_json([dataclasses.asdict(c) for c in found])
        return
    emit_table(["id", "name"], [(c.id, c.name) for c in found])


@app.command("sign-out")
def sign_out(email: str) -> None:
    """End every session of a user: their tokens are refused from the next request on."""
    with Lakehouse.open() as lh:
        users.end_sessions(lh.db, email)
    typer.echo(f"every session of {email} has ended; they sign in again")


@app.command()
def delete(email: str, yes: bool = YES_OPTION) -> None:
    """Delete a user; their tokens are refused from the next request on."""
    if not yes:
        typer.confirm(f"Delete {email}, their password and company scope?", abort=True)
    with Lakehouse.open() as lh:
        users.delete_user(lh.db, email)
    typer.echo(f"deleted {email}")


@app.command()
def passwd(email: str, password: str = PASSWORD_OPTION) -> None:
    """Set a local user's password (also unlocks the account and ends their sessions)."""
    with Lakehouse.open() as lh:
        users.set_password(lh.db, email, password)
    typer.echo(f"password set for {email}")


def _companies(company_ids: tuple[int, ...] | None) -> str:
    return "all" if company_ids is None else ",".join(map(str, company_ids))
