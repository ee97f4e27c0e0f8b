"""`ipai agents add|list|show|update|remove|runs|token|sync` and `ipai mcp serve`."""

from __future__ import annotations

import dataclasses
import logging
import sys
from decimal import Decimal
from typing import Any

import typer

from ipai_core.agents.identity import issue_agent_token
from ipai_core.agents.registry import (
    AgentRecord,
    add_agent,
    build_spec,
    get_agent,
    list_agents,
    list_runs,
    remove_agent,
    sync_agents,
    update_agent,
)
from ipai_core.agents.tools import known_tools
from ipai_core.cli.output import JSON_OPTION, emit_json, emit_table
from ipai_core.errors import ConfigError
from ipai_core.lakehouse import Lakehouse

app = typer.Typer(
    help="AI agents: what each may do (tools, schemas, operations, budgets) and what it did.",
    no_args_is_help=True,
)
mcp_app = typer.Typer(help="The MCP server for agents.", no_args_is_help=True)

TOOLS_HELP = f"Allowed tool; repeatable. Known: {', '.join(known_tools())}."
NAME_OPTION = typer.Option(None, "--name", help="Display name (default: the code name).")
DESCRIPTION_OPTION = typer.Option(None, "--description", help="What the agent is for.")
TYPE_OPTION = typer.Option("custom", "--type", help="pulser, claude, gemini, openai or custom.")
TOOL_OPTION = typer.Option([], "--tool", help=TOOLS_HELP)
SCHEMA_OPTION = typer.Option([], "--schema", help="Allowed lakehouse schema; repeatable.")
OPERATION_OPTION = typer.Option(
    [], "--operation", help="read, write, transform or schedule; repeatable (default: read)."
)
ROLE_OPTION = typer.Option([], "--role", help="Application role in its tokens; repeatable.")
PER_DAY_OPTION = typer.Option(None, "--cost-per-day", help="Daily cost budget, USD (UTC day).")
PER_CALL_OPTION = typer.Option(None, "--cost-per-call", help="Cost budget of one call, USD.")
LATENCY_OPTION = typer.Option(None, "--latency-ms", help="Latency budget of one call (ms).")
ACTIVE_OPTION = typer.Option(None, "--active/--inactive", help="Enable or disable the agent.")


@app.command()
def add(
    code_name: str,
    name: str | None = NAME_OPTION,
    description: str | None = DESCRIPTION_OPTION,
    agent_type: str = TYPE_OPTION,
    tool: list[str] = TOOL_OPTION,
    schema: list[str] = SCHEMA_OPTION,
    operation: list[str] = OPERATION_OPTION,
    role: list[str] = ROLE_OPTION,
    cost_per_day: str | None = PER_DAY_OPTION,
    cost_per_call: str | None = PER_CALL_OPTION,
    latency_ms: int | None = LATENCY_OPTION,
) -> None:
    """Register an agent; its database role and grants are created with it."""
    fields: dict[str, Any] = {
        "code_name": code_name,
        "display_name": name or code_name,
        "description": description,
        "agent_type": agent_type,
        "allowed_tools": tool,
        "allowed_schemas": schema,
        "allowed_operations": operation or ["read"],
        "app_roles": role,
        "cost_budget_usd_per_day": _usd(cost_per_day),
        "cost_budget_usd_per_call": _usd(cost_per_call),
    }
    if latency_ms is not None:
        fields["latency_budget_ms"] = latency_ms
    with Lakehouse.open() as lh:
        record = add_agent(lh, build_spec(**fields))
    typer.echo(
        f"added agent {record.code_name} ({record.id}); database role ipai_agent_{code_name}"
    )


@app.command()
def update(
    code_name: str,
    name: str | None = NAME_OPTION,
    description: str | None = DESCRIPTION_OPTION,
    tool: list[str] = TOOL_OPTION,
    schema: list[str] = SCHEMA_OPTION,
    operation: list[str] = OPERATION_OPTION,
    role: list[str] = ROLE_OPTION,
    cost_per_day: str | None = PER_DAY_OPTION,
    cost_per_call: str | None = PER_CALL_OPTION,
    latency_ms: int | None = LATENCY_OPTION,
    active: bool | None = ACTIVE_OPTION,
) -> None:
    """Change an agent. A repeatable option given at all replaces that whole list."""
    given = {
        "display_name": name,
        "description": description,
        "allowed_tools": tool or None,
        "allowed_schemas": schema or None,
        "allowed_operations": operation or None,
        "app_roles": role or None,
        "cost_budget_usd_per_day": _usd(cost_per_day),
        "cost_budget_usd_per_call": _usd(cost_per_call),
        "latency_budget_ms": latency_ms,
        "is_active": active,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if not changes:
        raise ConfigError("nothing to change: pass at least one option (see --help)")
    with Lakehouse.open() as lh:
        record = update_agent(lh, code_name, **changes)
    typer.echo(f"updated agent {record.code_name}")


@app.command()
def remove(code_name: str, yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
    """Remove an agent, its run history and its database privileges."""
    if not yes:
        typer.confirm(f"remove agent {code_name} and its run history?", abort=True)
    with Lakehouse.open() as lh:
        remove_agent(lh, code_name)
    typer.echo(f"removed agent {code_name}")


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List agents with their scopes and budgets."""
    with Lakehouse.open() as lh:
        records = list_agents(lh)
    if as_json:
        emit_json([_as_json(r) for r in records])
        return
    emit_table(
        ["agent", "active", "tools", "schemas", "operations", "roles", "$/day", "$/call", "ms"],
        [
            (
                r.code_name,
                "yes" if r.spec.is_active else "no",
                ",".join(r.spec.allowed_tools),
                ",".join(r.spec.allowed_schemas),
                ",".join(r.spec.allowed_operations),
                ",".join(r.spec.app_roles),
                r.spec.cost_budget_usd_per_day,
                r.spec.cost_budget_usd_per_call,
                r.spec.latency_budget_ms,
            )
            for r in records
        ],
    )


@app.command()
def show(code_name: str) -> None:
    """One agent as JSON."""
    with Lakehouse.open() as lh:
        emit_json(_as_json(get_agent(lh, code_name)))


@app.command()
def runs(
    code_name: str,
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Newest runs to show."),
    as_json: bool = JSON_OPTION,
) -> None:
    """An agent's latest calls: tool, outcome, latency, cost, error."""
    with Lakehouse.open() as lh:
        records = list_runs(lh, code_name, limit=limit)
    if as_json:
        emit_json([dataclasses.asdict(r) for r in records])
        return
    emit_table(
        ["started", "tool", "status", "ms", "cost $", "user", "error"],
        [
            (
                r.started_at,
                r.tool,
                r.status,
                r.latency_ms,
                r.cost_usd,
                r.user_id or "",
                (r.error_message or "")[:80],
            )
            for r in records
        ],
    )


@app.command()
def token(
    code_name: str,
    on_behalf_of: str | None = typer.Option(
        None, "--on-behalf-of", help="Email of the user the agent acts for (their RLS applies)."
    ),
    ttl: int | None = typer.Option(None, "--ttl", min=60, help="Lifetime in seconds."),
) -> None:
    """Print a token for the agent (MCP, n8n). Treat it as a password."""
    with Lakehouse.open() as lh:
        typer.echo(issue_agent_token(lh, code_name, on_behalf_of=on_behalf_of, ttl_seconds=ttl))


@app.command()
def sync(code_name: str | None = typer.Argument(None, help="One agent (default: all).")) -> None:
    """Re-derive agent database roles and grants from the registry (DDL does this by itself)."""
    with Lakehouse.open() as lh:
        changed = sync_agents(lh, code_name)
    typer.echo(f"agent grants in sync ({changed} privilege(s) changed)")


@mcp_app.command()
def serve(
    token: str | None = typer.Option(
        None, "--token", envvar="IPAI_AGENT_TOKEN", help="Agent token (or IPAI_AGENT_TOKEN)."
    ),
) -> None:
    """Serve MCP over stdio as the agent the token names (for Claude Desktop, Cursor, …)."""
    from ipai_core.mcp.stdio import serve_stdio

    if not token:
        raise ConfigError(
            "no agent token: set IPAI_AGENT_TOKEN or pass --token (`ipai agents token CODE`)"
        )
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)  # stdout is the protocol's
    with Lakehouse.open() as lh:
        serve_stdio(lh, token)


def _usd(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except ArithmeticError as exc:
        raise ConfigError(f"`{value}` is not an amount in USD (e.g. 0.50)") from exc


def _as_json(record: AgentRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        **record.spec.model_dump(mode="json"),
        "database_role": f"ipai_agent_{record.code_name}",
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }
