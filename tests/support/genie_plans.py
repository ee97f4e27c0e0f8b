"""What Genie's LLM planner asks the model for: a reply in its structured-output schema, with
every field present (as a strict json_schema reply has them) and the given ones set."""

from __future__ import annotations

from typing import Any


def llm_plan(**fields: Any) -> dict[str, Any]:
    """A planner reply: a query plan with nothing chosen, updated with `fields`."""
    return {
        "kind": "query",
        "dataset": None,
        "measures": [],
        "dimensions": [],
        "filters": [],
        "time_range": None,
        "time_grain": None,
        "time_dimension": None,
        "order_by": [],
        "limit": 100,
        "sql": None,
        "clarification": None,
        "options": [],
        "explanation": "",
        **fields,
    }
