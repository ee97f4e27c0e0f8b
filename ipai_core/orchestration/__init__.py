"""Runs that orchestrators ask for (n8n over HTTP, agents over MCP): a connector run or a
transformation refresh, accepted only from callers the database allows (`runs`), run in this
process by `runner.Orchestrator`, and exposed as HTTP endpoints by `routes`."""

from ipai_core.orchestration.runner import Orchestrator
from ipai_core.orchestration.runs import OrchestrationRun, get_run, request_run

__all__ = ["OrchestrationRun", "Orchestrator", "get_run", "request_run"]
