"""The MCP tools: each one bound to views and functions of the lakehouse, and each one run by
`Governance.call` as the calling agent (its grants, its roles narrowed to its user's, its
budgets). Input models are pydantic; their JSON schemas are what `tools/list` advertises.

    list_datasets         readable tables/views of the agent's schemas + its semantic models
    describe_dataset      a semantic model's fields, or a table/view's columns
    query_semantic_model  `run_semantic_query` (declared fields only, bound values)
    ask_genie             `Genie.ask` as the agent (for its user), LLM cost counted
    run_sql               one SELECT through `check_select` (agent's schemas, row limit)
    run_connector         queue a connector run (`schedule` operation; the database checks too)
    get_run               poll a run started with run_connector
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ipai_core.agents.governance import CallContext, Status, ToolHandler, ToolResult
from ipai_core.agents.tools import TOOL_RULES
from ipai_core.errors import ConfigError, NotFound
from ipai_core.genie.answer import GenieAnswer
from ipai_core.genie.service import Genie
from ipai_core.genie.sqlguard import check_select
from ipai_core.orchestration.runner import Orchestrator
from ipai_core.semantic import SemanticModel, SemanticQuery, load_models, run_semantic_query

_M = TypeVar("_M", bound=BaseModel)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoInput(_Input):
    pass


class DescribeInput(_Input):
    dataset: str = Field(
        min_length=1,
        max_length=130,
        description="A semantic model name, or a table/view as `schema.name`.",
    )


class AskGenieInput(_Input):
    question: str = Field(min_length=1, max_length=2000, description="A question in English.")


class RunSqlInput(_Input):
    sql: str = Field(
        min_length=1, max_length=20_000, description="One SELECT over the allowed schemas."
    )


class RunConnectorInput(_Input):
    connector: str = Field(min_length=1, max_length=200, description="The connector's name.")


class GetRunInput(_Input):
    run_id: str = Field(min_length=1, max_length=64, description="The id run_connector returned.")


@dataclass(frozen=True)
class McpTool:
    """One tool as the MCP server offers it: its input model and what runs it."""

    name: str
    input_model: type[BaseModel]
    handler: ToolHandler

    @property
    def description(self) -> str:
        return TOOL_RULES[self.name].description

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()


class Toolbox:
    """The tools' implementations; runs started by `run_connector` go to `orchestrator`."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._orchestrator = orchestrator

    def tools(self) -> dict[str, McpTool]:
        return {
            tool.name: tool
            for tool in (
                McpTool("list_datasets", NoInput, self.list_datasets),
                McpTool("describe_dataset", DescribeInput, self.describe_dataset),
                McpTool("query_semantic_model", SemanticQuery, self.query_semantic_model),
                McpTool("ask_genie", AskGenieInput, self.ask_genie),
                McpTool("run_sql", RunSqlInput, self.run_sql),
                McpTool("run_connector", RunConnectorInput, self.run_connector),
                McpTool("get_run", GetRunInput, self.get_run),
            )
        }

    def list_datasets(self, ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        _parse(NoInput, arguments)
        with ctx.session() as s:
            objects = s.query(_READABLE_OBJECTS, [list(ctx.policy.allowed_schemas)]).to_dicts()
            models = load_models(s)
        payload = {
            "datasets": objects,
            "semantic_models": [_model_summary(m) for m in models.values()],
        }
        return ToolResult(
            payload,
            {"datasets": len(objects), "semantic_models": sorted(models)},
        )

    def describe_dataset(self, ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        name = _parse(DescribeInput, arguments).dataset
        with ctx.session() as s:
            model = load_models(s).get(name)
            source = model.source_view if model else name
            schema, _, view = source.partition(".")
            columns = s.query(_COLUMNS, [schema, view]).to_dicts()
            comment = s.scalar(_COMMENT, [schema, view]) if columns else None
        if not columns:
            raise NotFound(
                f"no dataset `{name}` this agent can read; see list_datasets for the readable "
                "ones (a table or view is named `schema.name`)",
                name=name,
            )
        payload: dict[str, Any] = {"dataset": name, "source": source, "columns": columns}
        payload["description"] = model.description if model else comment
        if model is not None:
            payload["semantic_model"] = model.model_dump(mode="json")
        return ToolResult(payload, {"dataset": name, "columns": len(columns)})

    def query_semantic_model(self, ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        query = _parse(SemanticQuery, arguments)
        with ctx.session() as s:
            frame = run_semantic_query(s, query, max_limit=ctx.row_limit)
        return _frame_result(frame, ctx.row_limit, dataset=query.dataset)

    def ask_genie(self, ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        question = _parse(AskGenieInput, arguments).question
        answer = Genie(ctx.lakehouse).ask(ctx.principal, question, session_id=ctx.session_id)
        return _genie_result(answer, ctx.row_limit)

    def run_sql(self, ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        sql = _parse(RunSqlInput, arguments).sql
        checked = check_select(
            sql, allowed_schemas=ctx.policy.allowed_schemas, row_limit=ctx.row_limit
        )
        with ctx.session() as s, ctx.traced_sql(checked):
            frame = s.query(checked)
        return _frame_result(frame, ctx.row_limit, sql=checked)

    def run_connector(self, ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        name = _parse(RunConnectorInput, arguments).connector
        run = self._orchestrator.submit(ctx.principal, "connector", name, via="mcp")
        return ToolResult(run.as_json(), {"run_id": run.id, "connector": name})

    def get_run(self, ctx: CallContext, arguments: Mapping[str, Any]) -> ToolResult:
        run_id = _parse(GetRunInput, arguments).run_id
        run = self._orchestrator.status(ctx.principal, run_id)
        return ToolResult(run.as_json(), {"run_id": run.id, "status": run.status})


_READABLE_OBJECTS = """
SELECT n.nspname || '.' || c.relname AS name,
       CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
       obj_description(c.oid, 'pg_class') AS description
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
   AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
 ORDER BY 1
"""
_COLUMNS = """
SELECT column_name AS name, data_type AS type, is_nullable = 'YES' AS nullable
  FROM information_schema.columns
 WHERE table_schema = %s AND table_name = %s
 ORDER BY ordinal_position
"""
_GENIE_STATUS: dict[str, Status] = {"refused": "refused", "error": "failed"}  # clarify: success
_COMMENT = "SELECT obj_description(format('%%I.%%I', %s::text, %s::text)::regclass, 'pg_class')"


def _parse(model: type[_M], arguments: Mapping[str, Any]) -> _M:
    try:
        return model.model_validate(dict(arguments))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        raise ConfigError(
            f"invalid arguments: {where}: {error['msg']}; see the tool's input schema"
        ) from exc


def _model_summary(model: SemanticModel) -> dict[str, Any]:
    return {
        "dataset": model.dataset,
        "source_view": model.source_view,
        "description": model.description,
        "grain": model.grain,
        "measures": [m.name for m in model.measures],
        "dimensions": [d.name for d in model.dimensions],
    }


def _rows(frame: pl.DataFrame, limit: int) -> list[dict[str, Any]]:
    return frame.head(limit).to_dicts()


def _frame_result(frame: pl.DataFrame, limit: int, **context: Any) -> ToolResult:
    payload = {
        **context,
        "columns": frame.columns,
        "rows": _rows(frame, limit),
        "row_count": min(frame.height, limit),
        "truncated": frame.height > limit,
    }
    return ToolResult(payload, {**context, "columns": frame.columns, "rows": frame.height})


def _genie_result(answer: GenieAnswer, limit: int) -> ToolResult:
    payload = answer.to_dict(max_rows=limit)
    summary = {
        "status": answer.status,
        "dataset": answer.dataset,
        "rows": payload["row_count"],
        "planner": answer.planner,
        "sql": answer.sql,
    }
    status = _GENIE_STATUS.get(answer.status, "success")
    return ToolResult(
        payload,
        summary,
        tokens=answer.prompt_tokens + answer.completion_tokens,
        cost_usd=answer.cost_usd,
        status=status,
        reason=answer.explanation if status != "success" else None,
    )
