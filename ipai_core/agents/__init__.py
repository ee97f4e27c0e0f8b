"""AI agents as governed principals (PRD R4.1 to R4.4).

`registry` keeps agents in `public.ipai_agent` (the database derives each agent's own role and
grants from its row); `tools` is governance's list of tools and the operation each needs;
`identity` issues agent tokens, for a call on a person's behalf too; `governance.Governance.call`
checks, runs within budgets, and records every tool call; `summaries` keeps run logs small and
free of secrets.
"""

from ipai_core.agents.governance import (
    AgentPolicy,
    CallContext,
    CallOutcome,
    Governance,
    ToolHandler,
    ToolResult,
)
from ipai_core.agents.identity import effective_roles, issue_agent_token
from ipai_core.agents.registry import (
    AgentRecord,
    AgentRunRecord,
    AgentSpec,
    add_agent,
    build_spec,
    get_agent,
    list_agents,
    list_runs,
    remove_agent,
    sync_agents,
    update_agent,
)
from ipai_core.agents.tools import OPERATIONS, TOOL_RULES, Operation, ToolRule, known_tools

__all__ = [
    "OPERATIONS",
    "TOOL_RULES",
    "AgentPolicy",
    "AgentRecord",
    "AgentRunRecord",
    "AgentSpec",
    "CallContext",
    "CallOutcome",
    "Governance",
    "Operation",
    "ToolHandler",
    "ToolResult",
    "ToolRule",
    "add_agent",
    "build_spec",
    "effective_roles",
    "get_agent",
    "issue_agent_token",
    "known_tools",
    "list_agents",
    "list_runs",
    "remove_agent",
    "sync_agents",
    "update_agent",
]
