"""Semantic models: a dataset over one gold view, its measures (an SQL expression over the view's
columns and how it aggregates) and dimensions (a column or an expression, typed, with time grains
for date/time ones), synonyms for matching questions, default filters and RLS policy references.

Definitions live in `public.ipai_semantic_model` (seeded by migrations, edited by data
engineers); `load_models` reads the ones the principal may read, `semantic.store` saves them.
An expression runs inside every user's query, so it is checked as code (`checked_expression`),
when a model is built and again when it is compiled: first lexically, by the rule the database
also applies when a row is saved (`governance.sql_functions.expression_problem`: only allowlisted
functions, unqualified and unquoted; no `;`, comment, `$` or subquery keyword), then parsed with
sqlglot: a single scalar expression over bare column names, with no subquery, so a definition
cannot reach past its own view. A refusal is `UnsafeExpression`. The source view must be in a
gold or platinum schema.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

import sqlglot
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlglot import exp

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, UnknownField, UnsafeExpression
from ipai_core.governance.sql_functions import expression_problem
from ipai_core.semantic.query import Filter, TimeGrain

Aggregation = Literal["sum", "avg", "count", "count_distinct", "min", "max", "none"]
MeasureFormat = Literal["currency", "number", "percent", "duration"]
DimensionType = Literal["string", "number", "date", "time"]
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
SOURCE_VIEW_PATTERN = r"^ipai_(gold|platinum)_[a-z0-9_]+\.[a-z_][a-z0-9_]*$"
_COLUMN_PATTERN = r"^[a-z_][a-z0-9_]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Measure(_Frozen):
    """A number: `aggregation(sql)`, or with `none` an expression that aggregates by itself
    (ratios such as `sum(clicks)::numeric / nullif(sum(impressions), 0)`)."""

    name: str = Field(pattern=NAME_PATTERN)
    label: str
    sql: str
    aggregation: Aggregation = "sum"
    format: MeasureFormat = "number"
    description: str = ""
    synonyms: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _expression(self) -> Measure:
        if self.sql.strip() == "*" and self.aggregation == "count":
            return self
        tree = parse_expression(self.sql, where=f"measure `{self.name}`")
        has_aggregate = any(isinstance(n, exp.AggFunc) for n in tree.walk())
        if self.aggregation == "none" and not has_aggregate:
            raise ValueError(
                f"measure `{self.name}` has aggregation `none`, so its sql must aggregate by "
                f"itself (e.g. sum(a) / nullif(sum(b), 0)); got `{self.sql}`"
            )
        if self.aggregation != "none" and has_aggregate:
            raise ValueError(
                f"measure `{self.name}` aggregates twice: use aggregation `none` for `{self.sql}`"
            )
        return self


class Dimension(_Frozen):
    """Something to group or filter by: a `column` of the view, or an `sql` expression over its
    columns. Date and time dimensions list the grains they may be truncated to."""

    name: str = Field(pattern=NAME_PATTERN)
    label: str
    column: str | None = Field(default=None, pattern=_COLUMN_PATTERN)
    sql: str | None = None
    type: DimensionType = "string"
    time_grains: tuple[TimeGrain, ...] = ()
    description: str = ""
    synonyms: tuple[str, ...] = ()
    lookup: bool = Field(
        default=False,
        description="Genie may look this dimension's values up (under the user's RLS) to find "
        "filters named in a question, e.g. a company or a repository.",
    )
    value_synonyms: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Words that name one of the values: {receivable: [customer, debtor]}.",
    )

    @model_validator(mode="after")
    def _source(self) -> Dimension:
        if (self.column is None) == (self.sql is None):
            raise ValueError(f"dimension `{self.name}` needs exactly one of `column` or `sql`")
        if self.sql is not None:
            tree = parse_expression(self.sql, where=f"dimension `{self.name}`")
            if any(isinstance(n, exp.AggFunc) for n in tree.walk()):
                raise ValueError(f"dimension `{self.name}` must not aggregate: `{self.sql}`")
        if self.time_grains and not self.is_time:
            raise ValueError(f"dimension `{self.name}` has time grains but type `{self.type}`")
        return self

    @property
    def is_time(self) -> bool:
        return self.type in ("date", "time")


class SemanticModel(_Frozen):
    """One dataset: a gold view with its measures and dimensions."""

    dataset: str = Field(pattern=NAME_PATTERN)
    source_view: str = Field(pattern=SOURCE_VIEW_PATTERN)
    description: str = ""
    grain: str
    measures: tuple[Measure, ...] = Field(min_length=1)
    dimensions: tuple[Dimension, ...] = ()
    synonyms: tuple[str, ...] = ()
    default_filters: tuple[Filter, ...] = ()
    rls_policy_refs: tuple[str, ...] = ()

    @field_validator("default_filters", mode="before")
    @classmethod
    def _filters(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique_fields(self) -> SemanticModel:
        names = [m.name for m in self.measures] + [d.name for d in self.dimensions]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"dataset `{self.dataset}` declares {', '.join(duplicates)} more than once "
                "(measure and dimension names share one namespace)"
            )
        for default in self.default_filters:
            self.dimension(default.field)
        return self

    @property
    def view_schema(self) -> str:
        return self.source_view.split(".", 1)[0]

    @property
    def view(self) -> str:
        return self.source_view.split(".", 1)[1]

    @property
    def time_dimensions(self) -> tuple[Dimension, ...]:
        return tuple(d for d in self.dimensions if d.is_time)

    @property
    def default_time_dimension(self) -> Dimension | None:
        """The first declared date/time dimension: where a time range or grain applies."""
        return self.time_dimensions[0] if self.time_dimensions else None

    def measure(self, name: str) -> Measure:
        for measure in self.measures:
            if measure.name == name:
                return measure
        raise UnknownField(
            dataset=self.dataset, field=name, kind="measure", known=[m.name for m in self.measures]
        )

    def dimension(self, name: str) -> Dimension:
        for dimension in self.dimensions:
            if dimension.name == name:
                return dimension
        raise UnknownField(
            dataset=self.dataset,
            field=name,
            kind="dimension",
            known=[d.name for d in self.dimensions],
        )

    def has_field(self, name: str) -> bool:
        return any(m.name == name for m in self.measures) or any(
            d.name == name for d in self.dimensions
        )


@lru_cache(maxsize=1024)
def checked_expression(sql: str, *, where: str) -> str:
    """`sql` itself, once it passes `parse_expression`: the text the compiler puts into a query
    (remembered, as a compiled query writes the same few expressions again and again)."""
    parse_expression(sql, where=where)
    return sql


def parse_expression(sql: str, *, where: str) -> exp.Expression:
    """One scalar SQL expression over bare column names that calls only allowlisted functions;
    `UnsafeExpression` (naming `where`, e.g. "measure `revenue`") for anything else."""
    problem = expression_problem(sql)
    if problem:
        raise UnsafeExpression(problem, where=where, expression=sql)
    try:
        parsed = sqlglot.parse(f"SELECT {sql}", dialect="postgres")
    except sqlglot.errors.SqlglotError as exc:
        reason = f"it is not an SQL expression ({str(exc).splitlines()[0]})"
        raise UnsafeExpression(reason, where=where, expression=sql) from exc
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Select):
        raise UnsafeExpression("it must be one expression", where=where, expression=sql)
    select = parsed[0]
    clauses = [key for key, value in select.args.items() if value and key != "expressions"]
    if clauses or len(select.expressions) != 1:
        reason = "it must be one expression, without FROM or clauses"
        raise UnsafeExpression(reason, where=where, expression=sql)
    tree: exp.Expression = select.expressions[0]
    for node in tree.walk():
        _refuse_node(node, where=where, sql=sql)
    return tree


_NOT_IN_AN_EXPRESSION = (exp.Select, exp.Subquery, exp.Table, exp.DML, exp.DDL, exp.Dot)


def _refuse_node(node: exp.Expr, *, where: str, sql: str) -> None:
    if isinstance(node, _NOT_IN_AN_EXPRESSION):
        reason = "it must not contain a subquery, a statement or a qualified name"
        raise UnsafeExpression(reason, where=where, expression=sql)
    if isinstance(node, exp.Column) and node.table:
        reason = f"use bare column names, not `{node.sql()}`"
        raise UnsafeExpression(reason, where=where, expression=sql)
    if isinstance(node, exp.Placeholder | exp.Parameter):
        reason = "parameters are not allowed; write the value"
        raise UnsafeExpression(reason, where=where, expression=sql)
    if node.comments:
        raise UnsafeExpression("comments are not allowed", where=where, expression=sql)


_SELECT_MODELS = """
SELECT dataset, source_view, coalesce(description, ''), grain, measures, dimensions, synonyms,
       default_filters, rls_policy_refs
  FROM public.ipai_semantic_model
 WHERE is_active
 ORDER BY dataset
"""


def load_models(session: ScopedSession) -> dict[str, SemanticModel]:
    """The active semantic models the session's principal may read, by dataset name.

    A definition that does not validate is a data engineer's mistake in the table: it is
    reported with its dataset name rather than skipped.
    """
    models: dict[str, SemanticModel] = {}
    for row in session.query(_SELECT_MODELS).rows():
        models[row[0]] = model_from_row(row)
    return models


def load_model(session: ScopedSession, dataset: str) -> SemanticModel:
    """One active model by name; `UnknownField` lists the datasets the principal can read."""
    rows = session.query(
        _SELECT_MODELS.replace("WHERE is_active", "WHERE is_active AND dataset = %s"), [dataset]
    ).rows()
    if not rows:
        known = session.query(
            "SELECT dataset FROM public.ipai_semantic_model WHERE is_active ORDER BY 1"
        )
        raise UnknownField(
            dataset=None, field=dataset, kind="dataset", known=known.to_series().to_list()
        )
    return model_from_row(rows[0])


def model_from_row(row: tuple[Any, ...]) -> SemanticModel:
    dataset, source_view, description, grain, measures, dimensions, synonyms, filters, refs = row
    try:
        return SemanticModel(
            dataset=dataset,
            source_view=source_view,
            description=description,
            grain=grain,
            measures=_json(measures),
            dimensions=_json(dimensions),
            synonyms=tuple(synonyms or ()),
            default_filters=_json(filters),
            rls_policy_refs=tuple(refs or ()),
        )
    except UnsafeExpression as exc:
        raise UnsafeExpression(
            exc.problem,
            where=f"semantic model `{dataset}` in public.ipai_semantic_model, {exc.where}",
            expression=exc.sql,
        ) from exc
    except ValueError as exc:
        raise ConfigError(
            f"semantic model `{dataset}` in public.ipai_semantic_model is invalid: {exc}. "
            "Fix its row (data_engineer role)"
        ) from exc


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
