"""`ipai secrets set|list|delete`: named secrets in the vault (Supabase Vault or the local one).

A value is never a command-line argument (shell history, `ps`): it comes from a hidden prompt,
`IPAI_SECRET_VALUE`, or stdin with `--from-stdin`. Nothing here ever prints a value.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import typer

from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.errors import ConfigError
from ipai_core.lakehouse import Lakehouse
from ipai_core.vault import open_vault

VALUE_ENV = "IPAI_SECRET_VALUE"

app = typer.Typer(
    help="Secrets connectors refer to by name (vault_secret_refs); values are never shown.",
    no_args_is_help=True,
)

NAME_ARGUMENT = typer.Argument(..., help="Secret name, e.g. `erp_postgres/password`.")
DESCRIPTION_OPTION = typer.Option(
    None, "--description", "-d", help="What the secret is for (kept when omitted)."
)
FROM_STDIN_OPTION = typer.Option(
    False, "--from-stdin", help="Read the value from stdin (one trailing newline is dropped)."
)
YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


@app.command("set")
def set_(
    name: str = NAME_ARGUMENT,
    description: str | None = DESCRIPTION_OPTION,
    from_stdin: bool = FROM_STDIN_OPTION,
) -> None:
    """Store or replace a secret; the value is prompted for (or IPAI_SECRET_VALUE, or stdin)."""
    value = _read_value(from_stdin)
    with Lakehouse.open() as lh:
        vault = open_vault(lh)
        vault.put(name, value, description=description)
    typer.echo(f"stored secret `{name}` in the {vault.backend} vault")


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List secrets: names, descriptions and timestamps, never values."""
    with Lakehouse.open() as lh:
        infos = open_vault(lh).list()
    if as_json:
        emit_json([dataclasses.asdict(i) for i in infos])
        return
    emit_table(
        ["name", "description", "updated"],
        [(i.name, i.description, f"{i.updated_at:%Y-%m-%d %H:%M:%S %Z}") for i in infos],
    )


@app.command()
def delete(name: str = NAME_ARGUMENT, yes: bool = YES_OPTION) -> None:
    """Delete a secret (connectors that refer to it fail until it is set again)."""
    if not yes:
        typer.confirm(f"delete secret `{name}`?", abort=True)
    with Lakehouse.open() as lh:
        open_vault(lh).delete(name)
    typer.echo(f"deleted secret `{name}`")


def _read_value(from_stdin: bool) -> str:
    if from_stdin:
        value = sys.stdin.read()
        value = value.removesuffix("\n").removesuffix("\r")
    elif VALUE_ENV in os.environ:
        value = os.environ[VALUE_ENV]
    else:
        value = typer.prompt("value", hide_input=True, confirmation_prompt=True)
    if not value:
        raise ConfigError("the secret value is empty; nothing was stored")
    return value
