"""The tools an agent can be given, as governance knows them: what each does and which
operation it needs. The MCP server implements exactly these (a test fails when the two lists
differ), and the registry refuses an agent whose `allowed_tools` names anything else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Operation = Literal["read", "write", "transform", "schedule"]
OPERATIONS: tuple[Operation, ...] = ("read", "write", "transform", "schedule")


@dataclass(frozen=True)
class ToolRule:
    """Governance's view of one tool. `may_cost`: it may spend LLM money (cost budgets apply)."""

    name: str
    operation: Operation
    description: str
    may_cost: bool = False


TOOL_RULES: Mapping[str, ToolRule] = MappingProxyType(
    {
        rule.name: rule
        for rule in (
            ToolRule(
                "list_datasets",
                "read",
                "List the lakehouse tables and views and the semantic models this agent can read.",
            ),
            ToolRule(
                "describe_dataset",
                "read",
                "Describe one dataset: a semantic model (measures, dimensions) or a table/view "
                "(columns and their types).",
            ),
            ToolRule(
                "query_semantic_model",
                "read",
                "Query a semantic model: measures by dimensions, with filters, a time range and "
                "grain, an order and a row limit.",
            ),
            ToolRule(
                "ask_genie",
                "read",
                "Ask a question in English; Genie answers with rows, the SQL it ran and a "
                "one-line explanation, or asks back when the question is ambiguous.",
                may_cost=True,
            ),
            ToolRule(
                "run_sql",
                "read",
                "Run one read-only SELECT over this agent's allowed schemas (row limit and "
                "timeout apply).",
            ),
            ToolRule(
                "run_connector",
                "schedule",
                "Start a run of a connector by name; returns the run id to poll with get_run.",
            ),
            ToolRule(
                "get_run",
                "schedule",
                "Status of a run started with run_connector (queued, running, success, failed).",
            ),
        )
    }
)


def known_tools() -> tuple[str, ...]:
    return tuple(sorted(TOOL_RULES))
