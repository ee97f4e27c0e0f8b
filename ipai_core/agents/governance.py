"""Every agent tool call goes through `Governance.call`: one place that checks, runs and records.

    1. read the calling agent's registry row and today's spend — as the agent itself
       (`ipai_agent_self()`), so an unknown or removed agent stops here;
    2. refuse before running when the agent is inactive, the tool is unknown or not allowed, the
       tool's operation is not allowed, or the daily cost budget is spent;
    3. run the tool with the agent's principal narrowed to the roles its registry row still
       grants, `statement_timeout` = the latency budget, and a wall-clock deadline at the same
       budget that cancels the tool's open statements; a result that cost more than the per-call
       (or the rest of the daily) budget is withheld;
    4. record the call — success, failed or refused — as one `ipai_agent_run` row with an audit
       entry (`ipai_agent_log_run()`, again as the agent).

A refusal the database makes (a schema outside the agent's grants, a write without the `write`
operation) arrives as `AccessDenied` from the tool and is recorded as `refused` too.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import psycopg

from ipai_core.agents.identity import effective_roles
from ipai_core.agents.summaries import scrub_text, summarize
from ipai_core.agents.tools import TOOL_RULES, known_tools
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import (
    AccessDenied,
    AgentRefused,
    BudgetExceeded,
    IpaiError,
    UnsafeSql,
)
from ipai_core.lakehouse import Lakehouse
from ipai_core.observability import observe

log = logging.getLogger(__name__)

Status = Literal["success", "failed", "refused"]
CANCEL_GRACE_S = 2.0
_QUERY_CANCELED = "57014"


@dataclass(frozen=True)
class AgentPolicy:
    """The calling agent's registry row and its spend this UTC day, as governance reads it."""

    id: str
    code_name: str
    is_active: bool
    allowed_tools: tuple[str, ...]
    allowed_schemas: tuple[str, ...]
    allowed_operations: tuple[str, ...]
    app_roles: tuple[str, ...]
    cost_per_day: Decimal | None
    cost_per_call: Decimal | None
    latency_ms: int
    spent_today: Decimal

    def refusal(self, tool: str) -> AgentRefused | None:
        """Why `tool` may not run now, or None. Pure: testable without a database."""
        rule = TOOL_RULES.get(tool)
        if not self.is_active:
            return self._refuse(
                tool,
                "inactive",
                f"agent `{self.code_name}` is inactive; an admin enables it "
                f"with `ipai agents update {self.code_name} --active`",
            )
        if rule is None:
            return self._refuse(
                tool,
                "unknown_tool",
                f"there is no tool `{tool}`; tools: {', '.join(known_tools())}",
            )
        if tool not in self.allowed_tools:
            return self._refuse(
                tool,
                "tool_not_allowed",
                f"agent `{self.code_name}` may not use `{tool}` "
                f"(allowed: {', '.join(self.allowed_tools) or 'none'}); an admin adds it with "
                f"`ipai agents update {self.code_name} --tool {tool}`",
            )
        if rule.operation not in self.allowed_operations:
            return self._refuse(
                tool,
                "operation_not_allowed",
                f"`{tool}` needs the `{rule.operation}` operation, "
                f"which agent `{self.code_name}` lacks; an admin allows it with "
                f"`ipai agents update {self.code_name} --operation {rule.operation}`",
            )
        if self.cost_per_day is not None and self.spent_today >= self.cost_per_day:
            return self._refuse(
                tool,
                "cost_per_day",
                f"agent `{self.code_name}` has spent its daily cost budget "
                f"(${self.spent_today:.4f} of ${self.cost_per_day:.4f} today, UTC); it resets at "
                f"midnight UTC, or an admin raises it with "
                f"`ipai agents update {self.code_name} --cost-per-day USD`",
            )
        return None

    @property
    def cost_limit(self) -> Decimal | None:
        """The most one call may cost now: the per-call budget and what is left of the day's."""
        limits = [x for x in (self.cost_per_call, self._left_today) if x is not None]
        return min(limits) if limits else None

    @property
    def _left_today(self) -> Decimal | None:
        return None if self.cost_per_day is None else self.cost_per_day - self.spent_today

    def _refuse(self, tool: str, reason: str, message: str) -> AgentRefused:
        return AgentRefused(message, agent=self.code_name, tool=tool, reason=reason)


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns: `payload` for the caller, `summary` for the run log, and what the
    call spent (LLM tokens and USD). A tool that ran may still decline (`status` refused, e.g.
    Genie refusing an unsafe plan) or fail without raising; `reason` then says why."""

    payload: Mapping[str, Any]
    summary: Mapping[str, Any]
    tokens: int = 0
    cost_usd: float = 0.0
    status: Status = "success"
    reason: str | None = None


@dataclass(frozen=True)
class CallOutcome:
    """How one call ended; `result` only on success, `error` otherwise."""

    run_id: str
    tool: str
    status: Status
    latency_ms: int
    result: ToolResult | None = None
    error: IpaiError | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True)
class CallContext:
    """What a tool gets: a lakehouse whose sessions run as the agent (grants, narrowed roles,
    the latency budget as statement timeout) and that the call's deadline can cancel, the
    agent's policy, the MCP session id, and the most rows one result may carry."""

    lakehouse: CallLakehouse
    principal: Principal
    policy: AgentPolicy
    session_id: str | None
    row_limit: int
    observation: observe.AgentCallObservation | None = None

    def session(self) -> AbstractContextManager[ScopedSession]:
        """A transaction as the agent; the call's deadline cancels its running statement."""
        return self.lakehouse.session(self.principal)

    def traced_sql(self, statement: str) -> AbstractContextManager[object]:
        """Around one statement the tool runs: an `agent.sql` span under the call's span."""
        return nullcontext() if self.observation is None else self.observation.sql(statement)


ToolHandler = Callable[[CallContext, Mapping[str, Any]], ToolResult]


class Governance:
    """Checks, runs and records agent tool calls; see the module docstring."""

    def __init__(self, lakehouse: Lakehouse, *, cancel_grace_s: float = CANCEL_GRACE_S) -> None:
        self._lh = lakehouse
        self._grace = cancel_grace_s

    def policy(self, principal: Principal) -> AgentPolicy:
        """The calling agent's policy; `AgentRefused(unknown_agent)` when it is not registered."""
        agent = principal.agent
        if agent is None:
            raise AgentRefused(
                f"`{principal.label}` is not an agent: issue an agent token with "
                "`ipai agents token CODE`",
                agent=principal.label,
                tool="",
                reason="unknown_agent",
            )
        try:
            with self._lh.session(principal) as s:
                rows = s.query("SELECT * FROM public.ipai_agent_self()").rows()
        except psycopg.errors.InvalidParameterValue:  # SET ROLE: the role does not exist
            rows = []
        if not rows:
            raise AgentRefused(
                f"agent `{agent}` is not registered in this database (or its role is missing): "
                f"register it with `ipai agents add {agent}`, or run `ipai agents sync`",
                agent=agent,
                tool="",
                reason="unknown_agent",
            )
        return _policy(rows[0])

    def call(
        self,
        principal: Principal,
        tool: str,
        arguments: Mapping[str, Any],
        handler: ToolHandler,
        *,
        session_id: str | None = None,
    ) -> CallOutcome:
        """Run `handler` as `tool` for the agent `principal`, under its policy. A refusal or a
        failure of the tool does not raise: the outcome says what happened, and it was logged.
        Only an agent this database does not know raises `AgentRefused` (and is audited)."""
        started_at, clock = datetime.now(UTC), time.monotonic()
        try:
            policy = self.policy(principal)
        except AgentRefused as unknown:
            self._audit_unknown(principal, tool, unknown)
            raise
        roles = effective_roles(policy.app_roles, principal.roles)
        narrowed = principal.with_limits(roles=roles)
        refusal = policy.refusal(tool)
        result: ToolResult | None = None
        error: IpaiError | None = refusal
        user = narrowed.email or narrowed.on_behalf_of
        with observe.agent_call(policy.code_name, tool, user=user) as observation:
            if refusal is None:
                context = CallContext(
                    lakehouse=CallLakehouse(self._lh),
                    principal=narrowed.with_limits(statement_timeout_ms=policy.latency_ms),
                    policy=policy,
                    session_id=session_id,
                    row_limit=self._lh.settings.agent_row_limit,
                    observation=observation,
                )
                try:
                    result = self._with_deadline(context, tool, arguments, handler)
                    _check_cost(context.policy, tool, result)  # a result over budget is withheld
                    _check_declined(context.policy, tool, result)
                except IpaiError as exc:
                    error = exc
            if result is not None:
                observation.usage(tokens=result.tokens, cost_usd=result.cost_usd)
            if error is not None:
                observation.failed(str(error))
        status = _status(error)
        latency_ms = int((time.monotonic() - clock) * 1000)
        run_id = self._record(
            narrowed, tool, arguments, result, error, status, started_at, latency_ms, session_id
        )
        return CallOutcome(
            run_id, tool, status, latency_ms, result if status == "success" else None, error
        )

    def _with_deadline(
        self,
        context: CallContext,
        tool: str,
        arguments: Mapping[str, Any],
        handler: ToolHandler,
    ) -> ToolResult:
        """Run the handler in a worker thread; at the latency budget, cancel and give up."""
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                outcome["result"] = handler(context, arguments)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc
            finally:
                done.set()

        budget_ms = context.policy.latency_ms
        caller = contextvars.copy_context()  # the call's span and log fields carry on in the worker
        threading.Thread(
            target=caller.run, args=(work,), name=f"ipai-agent-{tool}", daemon=True
        ).start()
        if not done.wait(budget_ms / 1000):
            context.lakehouse.cancel()
            done.wait(self._grace)  # let the cancelled transaction roll back before logging
            raise _latency_exceeded(context.policy, tool)
        error = outcome.get("error")
        if error is not None:
            if _was_cancelled(error):
                raise _latency_exceeded(context.policy, tool) from error
            if isinstance(error, IpaiError):
                raise error
            log.exception("tool `%s` of agent `%s` crashed", tool, context.policy.code_name)
            raise IpaiError(f"`{tool}` failed: {type(error).__name__}: {error}") from error
        result: ToolResult = outcome["result"]
        return result

    def _record(
        self,
        principal: Principal,
        tool: str,
        arguments: Mapping[str, Any],
        result: ToolResult | None,
        error: IpaiError | None,
        status: Status,
        started_at: datetime,
        latency_ms: int,
        session_id: str | None,
    ) -> str:
        """One ipai_agent_run row + audit entry, written as the agent. Failing to record fails
        the call: no agent gets an answer that left no trace."""
        output = summarize(result.summary) if result is not None else None
        if result is not None and status != "success":
            output = {"withheld": True, **(output or {})}
        with self._lh.session(principal) as s:
            run_id = s.scalar(
                "SELECT public.ipai_agent_log_run(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    tool,
                    session_id,
                    status,
                    started_at,
                    latency_ms,
                    json.dumps(summarize(dict(arguments))),
                    None if output is None else json.dumps(output),
                    None if result is None else result.tokens,
                    None if result is None else Decimal(str(result.cost_usd)),
                    None if error is None else scrub_text(str(error), limit=2000),
                    json.dumps(_metadata(error)),
                ],
            )
        return str(run_id)

    def _audit_unknown(self, principal: Principal, tool: str, refusal: AgentRefused) -> None:
        """No run row can name an unregistered agent; the audit log still records the attempt."""
        with self._lh.session(Principal.service(f"agent refused: {principal.label}")) as s:
            s.execute(
                "SELECT public.ipai_audit('agent_run', 'agent', NULL, 'refused', %s)",
                [json.dumps({"agent": principal.agent, "tool": tool, "error": str(refusal)})],
            )


class CallLakehouse(Lakehouse):
    """One call's view of the lakehouse: the same pool, settings and tokens, but every session
    opened through it is registered, so the call's deadline can cancel what runs there — also
    sessions that code such as Genie opens itself with `lakehouse.session(principal)`."""

    def __init__(self, base: Lakehouse) -> None:
        super().__init__(base.settings, base.db, base.tokens, owner_url=base.owner_url)
        self._lock = threading.Lock()
        self._open: set[psycopg.Connection] = set()
        self._cancelled = threading.Event()

    def session(self, principal: Principal) -> AbstractContextManager[ScopedSession]:
        return self._tracked(principal)

    def cancel(self) -> None:
        """Cancel every statement running in this call's sessions, and any opened later."""
        self._cancelled.set()
        with self._lock:
            connections = list(self._open)
        for conn in connections:
            conn.cancel_safe(timeout=CANCEL_GRACE_S)

    def close(self) -> None:
        """Nothing to close: the pool belongs to the lakehouse this one wraps."""

    @contextmanager
    def _tracked(self, principal: Principal) -> Iterator[ScopedSession]:
        with super().session(principal) as s:
            with self._lock:
                self._open.add(s.connection)
            try:
                if self._cancelled.is_set():
                    s.connection.cancel_safe(timeout=CANCEL_GRACE_S)
                yield s
            finally:
                with self._lock:
                    self._open.discard(s.connection)


def new_session_id() -> str:
    return uuid.uuid4().hex


def _policy(row: tuple[Any, ...]) -> AgentPolicy:
    (agent_id, code, active, tools, schemas, operations, roles, per_day, per_call, latency,
     spent) = row  # fmt: skip
    return AgentPolicy(
        id=str(agent_id),
        code_name=str(code),
        is_active=bool(active),
        allowed_tools=tuple(tools or ()),
        allowed_schemas=tuple(schemas or ()),
        allowed_operations=tuple(operations or ()),
        app_roles=tuple(roles or ()),
        cost_per_day=None if per_day is None else Decimal(str(per_day)),
        cost_per_call=None if per_call is None else Decimal(str(per_call)),
        latency_ms=int(latency),
        spent_today=Decimal(str(spent or 0)),
    )


def _status(error: IpaiError | None) -> Status:
    if error is None:
        return "success"
    if isinstance(error, AgentRefused | AccessDenied | UnsafeSql):
        return "refused"
    return "failed"


def _metadata(error: IpaiError | None) -> dict[str, Any]:
    if error is None:
        return {}
    details: dict[str, Any] = {"error_type": type(error).__name__}
    for name in ("reason", "budget", "limit", "sqlstate"):
        value = getattr(error, name, None)
        if value is not None:
            details[name] = value
    return details


def _check_declined(policy: AgentPolicy, tool: str, result: ToolResult) -> None:
    reason = result.reason or f"`{tool}` gave no reason"
    if result.status == "refused":
        raise AgentRefused(reason, agent=policy.code_name, tool=tool, reason="declined")
    if result.status == "failed":
        raise IpaiError(f"`{tool}` failed: {reason}")


def _check_cost(policy: AgentPolicy, tool: str, result: ToolResult) -> None:
    limit = policy.cost_limit
    if limit is None or Decimal(str(result.cost_usd)) <= limit:
        return
    budget = "cost_per_call" if limit == policy.cost_per_call else "cost_per_day"
    which = "per-call" if budget == "cost_per_call" else "remaining daily"
    raise BudgetExceeded(
        f"`{tool}` cost ${result.cost_usd:.4f}, over agent `{policy.code_name}`'s {which} budget "
        f"of ${limit:.4f}; its result was withheld. An admin raises it with "
        f"`ipai agents update {policy.code_name} --{budget.replace('_', '-')} USD`",
        agent=policy.code_name,
        budget=budget,
        limit=float(limit),
    )


def _latency_exceeded(policy: AgentPolicy, tool: str) -> BudgetExceeded:
    return BudgetExceeded(
        f"`{tool}` was cut off at agent `{policy.code_name}`'s latency budget of "
        f"{policy.latency_ms} ms; ask for less (a narrower query, a lower limit), or an admin "
        f"raises it with `ipai agents update {policy.code_name} --latency-ms MS`",
        agent=policy.code_name,
        budget="latency",
        limit=float(policy.latency_ms),
    )


def _was_cancelled(error: BaseException) -> bool:
    """A statement timeout or a cancel, possibly wrapped by the tool's own error types."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, psycopg.errors.QueryCanceled):
            return True
        if getattr(seen, "sqlstate", None) == _QUERY_CANCELED:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
