"""The agent registry (`public.ipai_agent`): add, list, show, update and remove agents, and read
their runs. Writing a row is enough to (re)derive the agent's database role — a trigger in the
database does it — so nothing here grants anything itself; `sync_agents` re-runs that on demand.

Specs are validated before anything is written: code names fit a role name, tools are ones
governance knows (`tools.TOOL_RULES`) and their operations are allowed, schemas are lakehouse
schemas that exist.
"""

from __future__ import annotations

import json
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ipai_core.agents.tools import OPERATIONS, TOOL_RULES, Operation, known_tools
from ipai_core.db.principal import AGENT_CODE_NAME, Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, NotFound
from ipai_core.lakehouse import Lakehouse

AgentType = Literal["pulser", "claude", "gemini", "openai", "custom"]
LAKEHOUSE_SCHEMA = re.compile(r"^ipai_(bronze|silver|gold|platinum)_[a-z0-9_]+$")
DEFAULT_LATENCY_MS = 30_000

_COLUMNS = (
    "id::text, code_name, display_name, description, agent_type, allowed_tools, allowed_schemas,"
    " allowed_operations, app_roles, cost_budget_usd, cost_budget_usd_per_call,"
    " latency_budget_ms, is_active, created_at, updated_at"
)


class AgentSpec(BaseModel):
    """What an agent is allowed: the registry row minus its bookkeeping columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code_name: str = Field(pattern=AGENT_CODE_NAME.pattern)
    display_name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    agent_type: AgentType = "custom"
    allowed_tools: tuple[str, ...] = ()
    allowed_schemas: tuple[str, ...] = ()
    allowed_operations: tuple[Operation, ...] = ("read",)
    app_roles: tuple[str, ...] = ()
    cost_budget_usd_per_day: Decimal | None = Field(
        default=None, ge=0, max_digits=10, decimal_places=4
    )
    cost_budget_usd_per_call: Decimal | None = Field(
        default=None, ge=0, max_digits=10, decimal_places=4
    )
    latency_budget_ms: int = Field(default=DEFAULT_LATENCY_MS, gt=0, le=3_600_000)
    is_active: bool = True

    @field_validator("allowed_tools")
    @classmethod
    def _known_tools(cls, tools: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in tools if t not in TOOL_RULES]
        if unknown:
            raise ValueError(
                f"unknown tool(s) {', '.join(f'`{t}`' for t in unknown)}; "
                f"known tools: {', '.join(known_tools())}"
            )
        return tuple(dict.fromkeys(tools))

    @field_validator("allowed_schemas")
    @classmethod
    def _lakehouse_schemas(cls, schemas: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in schemas if not LAKEHOUSE_SCHEMA.match(s)]
        if bad:
            raise ValueError(
                f"schema(s) {', '.join(f'`{s}`' for s in bad)} are not lakehouse schemas "
                "(ipai_bronze_*, ipai_silver_*, ipai_gold_*, ipai_platinum_*); agents never "
                "read the control plane"
            )
        return tuple(dict.fromkeys(schemas))

    @field_validator("app_roles")
    @classmethod
    def _role_names(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in roles if not re.match(r"^[a-z][a-z0-9_]*$", r)]
        if bad:
            raise ValueError(f"application role(s) {bad} must be lower_snake_case names")
        return tuple(dict.fromkeys(roles))

    @model_validator(mode="after")
    def _tools_fit_operations(self) -> AgentSpec:
        for tool in self.allowed_tools:
            needed = TOOL_RULES[tool].operation
            if needed not in self.allowed_operations:
                raise ValueError(
                    f"tool `{tool}` needs the `{needed}` operation; allow it too "
                    f"(--operation {needed}) or drop the tool"
                )
        return self


@dataclass(frozen=True)
class AgentRecord:
    id: str
    spec: AgentSpec
    created_at: datetime
    updated_at: datetime

    @property
    def code_name(self) -> str:
        return self.spec.code_name


@dataclass(frozen=True)
class AgentRunRecord:
    id: str
    tool: str | None
    status: str
    user_id: str | None
    session_id: str | None
    started_at: datetime
    latency_ms: int | None
    tokens_used: int | None
    cost_usd: Decimal | None
    error_message: str | None
    input_summary: Any
    output_summary: Any


def build_spec(**fields: Any) -> AgentSpec:
    """An `AgentSpec` from loose values (CLI options); a bad value raises `ConfigError`."""
    try:
        return AgentSpec(**fields)
    except ValidationError as exc:
        raise ConfigError(f"invalid agent: {_first_error(exc)}") from exc


def add_agent(lh: Lakehouse, spec: AgentSpec) -> AgentRecord:
    """Register an agent; its database role is created by the registry trigger."""
    with _service(lh, f"agents add {spec.code_name}") as s:
        _require_schemas(s, spec.allowed_schemas)
        try:
            s.execute(
                "INSERT INTO public.ipai_agent (code_name, display_name, description, agent_type,"
                " allowed_tools, allowed_schemas, allowed_operations, app_roles, cost_budget_usd,"
                " cost_budget_usd_per_call, latency_budget_ms, is_active)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                _row_values(spec),
            )
        except psycopg.errors.UniqueViolation as exc:
            raise ConfigError(
                f"agent `{spec.code_name}` already exists; change it with "
                f"`ipai agents update {spec.code_name}`"
            ) from exc
        _audit(s, spec.code_name, "agent_added", spec)
        return _get(s, spec.code_name)


def update_agent(lh: Lakehouse, code_name: str, **changes: Any) -> AgentRecord:
    """Change some fields of an agent (validated as a whole); its grants follow at once."""
    with _service(lh, f"agents update {code_name}") as s:
        current = _get(s, code_name)
        spec = build_spec(**{**current.spec.model_dump(), **changes})
        if spec.code_name != code_name:
            raise ConfigError(
                f"an agent's code name cannot change (`{code_name}` → `{spec.code_name}`); "
                "add a new agent and remove the old one"
            )
        _require_schemas(s, spec.allowed_schemas)
        s.execute(
            "UPDATE public.ipai_agent SET display_name = %s, description = %s,"
            " agent_type = %s, allowed_tools = %s, allowed_schemas = %s, allowed_operations = %s,"
            " app_roles = %s, cost_budget_usd = %s, cost_budget_usd_per_call = %s,"
            " latency_budget_ms = %s, is_active = %s WHERE code_name = %s",
            [*_row_values(spec)[1:], code_name],
        )
        _audit(s, code_name, "agent_updated", spec)
        return _get(s, code_name)


def remove_agent(lh: Lakehouse, code_name: str) -> None:
    """Remove an agent and its run history; its database role loses every privilege."""
    with _service(lh, f"agents remove {code_name}") as s:
        record = _get(s, code_name)
        _audit(s, code_name, "agent_removed", record.spec)
        s.execute("DELETE FROM public.ipai_agent WHERE id = %s", [record.id])


def get_agent(lh: Lakehouse, code_name: str) -> AgentRecord:
    with _service(lh, f"agents show {code_name}") as s:
        return _get(s, code_name)


def list_agents(lh: Lakehouse) -> list[AgentRecord]:
    with _service(lh, "agents list") as s:
        rows = s.query(f"SELECT {_COLUMNS} FROM public.ipai_agent ORDER BY code_name").rows()  # noqa: S608 - constant column list
    return [_record(row) for row in rows]


def list_runs(lh: Lakehouse, code_name: str, *, limit: int = 50) -> list[AgentRunRecord]:
    """The agent's latest runs, newest first."""
    with _service(lh, f"agents runs {code_name}") as s:
        agent = _get(s, code_name)
        rows = s.query(
            "SELECT id::text, tool, status, user_id::text, session_id, started_at, latency_ms,"
            " tokens_used, cost_usd, error_message, input_summary, output_summary"
            " FROM public.ipai_agent_run WHERE agent_id = %s"
            " ORDER BY started_at DESC, ended_at DESC NULLS FIRST LIMIT %s",
            [agent.id, limit],
        ).rows()
    return [_run_record(row) for row in rows]


def sync_agents(lh: Lakehouse, code_name: str | None = None) -> int:
    """Re-derive agent roles and grants from the registry; returns the privileges changed."""
    with _service(lh, "agents sync") as s:
        if code_name is not None:
            _get(s, code_name)
        return int(s.scalar("SELECT public.ipai_agent_sync(%s)", [code_name]))


def _service(lh: Lakehouse, reason: str) -> AbstractContextManager[ScopedSession]:
    return lh.session(Principal.service(reason))


def _get(s: ScopedSession, code_name: str) -> AgentRecord:
    rows = s.query(
        f"SELECT {_COLUMNS} FROM public.ipai_agent WHERE code_name = %s",  # noqa: S608 - constant column list
        [code_name],
    ).rows()
    if not rows:
        raise NotFound(
            f"no agent `{code_name}`; list agents with `ipai agents list`", name=code_name
        )
    return _record(rows[0])


def _record(row: tuple[Any, ...]) -> AgentRecord:
    (agent_id, code, display, description, agent_type, tools, schemas, operations, roles,
     per_day, per_call, latency, active, created, updated) = row  # fmt: skip
    spec = AgentSpec(
        code_name=code,
        display_name=display,
        description=description,
        agent_type=agent_type,
        allowed_tools=tuple(t for t in _list(tools) if t in TOOL_RULES),
        allowed_schemas=tuple(_list(schemas)),
        allowed_operations=tuple(o for o in _list(operations) if o in OPERATIONS),
        app_roles=tuple(_list(roles)),
        cost_budget_usd_per_day=_decimal(per_day),
        cost_budget_usd_per_call=_decimal(per_call),
        latency_budget_ms=int(latency),
        is_active=bool(active),
    )
    return AgentRecord(str(agent_id), spec, created, updated)


def _run_record(row: tuple[Any, ...]) -> AgentRunRecord:
    (run_id, tool, status, user_id, session_id, started, latency, tokens, cost, error, given,
     returned) = row  # fmt: skip
    return AgentRunRecord(
        id=str(run_id),
        tool=tool,
        status=str(status),
        user_id=user_id,
        session_id=session_id,
        started_at=started,
        latency_ms=latency,
        tokens_used=tokens,
        cost_usd=_decimal(cost),
        error_message=error,
        input_summary=_json(given),
        output_summary=_json(returned),
    )


def _row_values(spec: AgentSpec) -> list[Any]:
    return [
        spec.code_name,
        spec.display_name,
        spec.description,
        spec.agent_type,
        list(spec.allowed_tools),
        list(spec.allowed_schemas),
        list(spec.allowed_operations),
        list(spec.app_roles),
        spec.cost_budget_usd_per_day,
        spec.cost_budget_usd_per_call,
        spec.latency_budget_ms,
        spec.is_active,
    ]


def _require_schemas(s: ScopedSession, schemas: tuple[str, ...]) -> None:
    existing = set(
        s.query("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [list(schemas)])[
            "nspname"
        ].to_list()
    )
    missing = [name for name in schemas if name not in existing]
    if missing:
        raise ConfigError(
            f"schema(s) {', '.join(f'`{m}`' for m in missing)} do not exist; see the schemas "
            "with `ipai rls check --all` or in the workspace catalog"
        )


def _audit(s: ScopedSession, code_name: str, action: str, spec: AgentSpec) -> None:
    s.execute(
        "SELECT public.ipai_audit('agent', 'agent',"
        " (SELECT id FROM public.ipai_agent WHERE code_name = %s), %s, %s)",
        [code_name, action, spec.model_dump_json()],
    )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # a text[] that came back as JSON text
        return [str(v) for v in json.loads(value)]
    return [str(v) for v in value]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
