"""From a semantic query to one SELECT over the model's view.

Only declared fields compile (an unknown one raises `UnknownField` listing the known ones);
operators come from a fixed set; every value is a bound parameter cast to the field's type;
identifiers are quoted with `psycopg.sql`; every model expression that goes into the SQL is
checked again as it is written (`checked_expression`, raising `UnsafeExpression`), so a model that
skipped validation — built with `model_construct`, or read from a row that got past the
database's trigger — still cannot run a function off the allowlist. Grouping is by position, so a
grouped expression is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ipai_core.errors import SemanticQueryError, UnknownField
from ipai_core.semantic.models import Dimension, Measure, SemanticModel, checked_expression
from ipai_core.semantic.query import Filter, SemanticQuery

MAX_LIMIT = 10_000
_CASTS = {"string": "text", "number": "numeric", "date": "date", "time": "timestamptz"}
_COMPARISONS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
_AGGREGATES = {
    "sum": "sum({})",
    "avg": "avg({})",
    "count": "count({})",
    "count_distinct": "count(DISTINCT {})",
    "min": "min({})",
    "max": "max({})",
}


@dataclass(frozen=True)
class CompiledQuery:
    """The SQL (`%s` placeholders), its parameters in order, and the result's column names."""

    sql: str
    params: list[Any]
    columns: list[str]


@dataclass
class _Parts:
    """Clauses with their own parameters, joined in the order the SQL text has them."""

    select: list[sql.Composable] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    where: list[sql.Composable] = field(default_factory=list)
    where_params: list[Any] = field(default_factory=list)
    having: list[sql.Composable] = field(default_factory=list)
    having_params: list[Any] = field(default_factory=list)


def compile_query(
    model: SemanticModel, query: SemanticQuery, *, max_limit: int = MAX_LIMIT
) -> CompiledQuery:
    """SQL for `query` over `model`'s view; raises `UnknownField` / `SemanticQueryError`."""
    if query.dataset != model.dataset:
        raise SemanticQueryError(
            f"the query is for `{query.dataset}` but the model is `{model.dataset}`",
            dataset=model.dataset,
        )
    if query.limit > max_limit:
        raise SemanticQueryError(
            f"limit `{query.limit}` is over the cap of {max_limit} rows; ask for fewer rows or "
            "aggregate further",
            dataset=model.dataset,
        )
    parts = _Parts()
    grouped = _select_dimensions(model, query, parts)
    measures = [model.measure(name) for name in query.measures]
    for measure in measures:
        parts.select.append(sql.SQL("{} AS {}").format(_aggregate(measure), _ident(measure.name)))
        parts.columns.append(measure.name)
    _where(model, query, parts)
    statement = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(parts.select), sql.Identifier(model.view_schema, model.view)
    )
    if parts.where:
        statement += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts.where)
    if grouped:  # without measures, grouping by every dimension lists their distinct values
        positions = [sql.Literal(i) for i in range(1, grouped + 1)]
        statement += sql.SQL(" GROUP BY ") + sql.SQL(", ").join(positions)
    if parts.having:
        statement += sql.SQL(" HAVING ") + sql.SQL(" AND ").join(parts.having)
    order = _order(model, query, parts.columns, grouped, bool(measures))
    if order:
        statement += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order)
    statement += sql.SQL(" LIMIT {}").format(sql.Literal(query.limit))
    params = parts.where_params + parts.having_params
    return CompiledQuery(statement.as_string(None), params, parts.columns)


def _select_dimensions(model: SemanticModel, query: SemanticQuery, parts: _Parts) -> int:
    """Adds the grouped columns (the truncated time dimension first); returns how many."""
    time_dim = _time_dimension(model, query)
    names = list(dict.fromkeys(query.dimensions))
    if query.time_grain is not None and time_dim is not None:
        _check_grain(model, time_dim, query.time_grain)
        truncated = sql.SQL("date_trunc({}, {})::date").format(
            sql.Literal(query.time_grain), dimension_expression(time_dim)
        )
        parts.select.append(sql.SQL("{} AS {}").format(truncated, _ident(time_dim.name)))
        parts.columns.append(time_dim.name)
        names = [n for n in names if n != time_dim.name]
    for name in names:
        dimension = model.dimension(name)
        parts.select.append(
            sql.SQL("{} AS {}").format(dimension_expression(dimension), _ident(name))
        )
        parts.columns.append(name)
    return len(parts.columns)


def _time_dimension(model: SemanticModel, query: SemanticQuery) -> Dimension | None:
    needed = query.time_grain is not None or query.time_range is not None
    if query.time_dimension is not None:
        dimension = model.dimension(query.time_dimension)
        if not dimension.is_time:
            raise SemanticQueryError(
                f"`{dimension.name}` of `{model.dataset}` is a {dimension.type} dimension, not a "
                f"date or time; use one of: {_names(model.time_dimensions)}",
                dataset=model.dataset,
            )
        return dimension
    if needed and model.default_time_dimension is None:
        raise SemanticQueryError(
            f"`{model.dataset}` has no date or time dimension, so it cannot take a time range or "
            "grain; drop them, or ask another dataset",
            dataset=model.dataset,
        )
    return model.default_time_dimension


def _check_grain(model: SemanticModel, dimension: Dimension, grain: str) -> None:
    if dimension.time_grains and grain not in dimension.time_grains:
        raise SemanticQueryError(
            f"`{dimension.name}` of `{model.dataset}` cannot be grouped by `{grain}`; "
            f"use one of: {', '.join(dimension.time_grains)}",
            dataset=model.dataset,
        )


def _where(model: SemanticModel, query: SemanticQuery, parts: _Parts) -> None:
    """Default filters (unless the query filters or groups by their field), the query's filters,
    then the time range. A `latest` filter on the time dimension keeps the last value *within*
    the time range ("total assets in Q2" is the balance at the end of June)."""
    time_dim = _time_dimension(model, query)
    ranged, range_params = _time_range(query, time_dim)
    overridden = {f.field for f in query.filters} | set(query.dimensions)
    if time_dim is not None and query.time_grain is not None:
        overridden.add(time_dim.name)
    for item in (*model.default_filters, *query.filters):
        is_default = item in model.default_filters
        if is_default and item.field in overridden:
            continue
        on_time = time_dim is not None and item.field == time_dim.name
        if is_default and on_time and query.time_range and item.op != "latest":
            continue
        if item.op == "latest":
            parts.where.append(_latest(model, item, ranged if on_time else []))
            parts.where_params.extend(range_params if on_time else [])
        else:
            _filter(model, item, parts)
    parts.where.extend(ranged)
    parts.where_params.extend(range_params)


def _time_range(
    query: SemanticQuery, time_dim: Dimension | None
) -> tuple[list[sql.Composable], list[Any]]:
    if query.time_range is None or time_dim is None:
        return [], []
    cast = sql.SQL(_CASTS[time_dim.type])
    column = dimension_expression(time_dim)
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    if query.time_range.start is not None:
        conditions.append(sql.SQL("{} >= %s::{}").format(column, cast))
        params.append(query.time_range.start)
    if query.time_range.end is not None:
        conditions.append(sql.SQL("{} < %s::{}").format(column, cast))
        params.append(query.time_range.end)
    return conditions, params


def _latest(model: SemanticModel, item: Filter, within: list[sql.Composable]) -> sql.Composable:
    """The rows of the field's greatest value, computed over the same view (and so under the
    same RLS), optionally within the time range."""
    if any(m.name == item.field for m in model.measures):
        raise SemanticQueryError(
            f"`latest` applies to a dimension, not the measure `{item.field}`",
            dataset=model.dataset,
        )
    target = dimension_expression(model.dimension(item.field))
    subquery = sql.SQL("SELECT max({}) FROM {}").format(
        target, sql.Identifier(model.view_schema, model.view)
    )
    if within:
        subquery += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(within)
    return sql.SQL("{} = ({})").format(target, subquery)


def _filter(model: SemanticModel, item: Filter, parts: _Parts) -> None:
    if any(m.name == item.field for m in model.measures):
        target, cast = _aggregate(model.measure(item.field)), "numeric"
        clauses, params = parts.having, parts.having_params
    else:
        dimension = model.dimension(item.field)
        target, cast = dimension_expression(dimension), _CASTS[dimension.type]
        clauses, params = parts.where, parts.where_params
    clauses.append(_condition(item, target, sql.SQL(cast), params))


def _condition(
    item: Filter, target: sql.Composable, cast: sql.Composable, params: list[Any]
) -> sql.Composable:
    op, value = item.op, item.value
    if op in _COMPARISONS:
        params.append(value)
        return sql.SQL("{} {} %s::{}").format(target, sql.SQL(_COMPARISONS[op]), cast)
    if op in ("in", "not in"):
        params.append(value)
        test = sql.SQL("{} = ANY(%s::{}[])").format(target, cast)
        return test if op == "in" else sql.SQL("NOT coalesce({}, false)").format(test)
    if op == "between" and isinstance(value, list):  # two values, checked by `Filter`
        params.extend(value)
        return sql.SQL("{} BETWEEN %s::{} AND %s::{}").format(target, cast, cast)
    if op == "contains":
        params.append(f"%{_escape_like(str(value))}%")
        return sql.SQL("{}::text ILIKE %s").format(target)
    if op == "is not null":
        return sql.SQL("{} IS NOT NULL").format(target)
    return sql.SQL("{} IS NULL").format(target)


def _order(
    model: SemanticModel,
    query: SemanticQuery,
    columns: list[str],
    grouped: int,
    has_measures: bool,
) -> list[sql.Composable]:
    if query.order_by:
        order: list[sql.Composable] = []
        for item in query.order_by:
            if item.field not in columns:
                raise UnknownField(
                    dataset=model.dataset, field=item.field, kind="order field", known=columns
                )
            direction = sql.SQL(" DESC NULLS LAST" if item.desc else " ASC NULLS LAST")
            order.append(_ident(item.field) + direction)
        return order
    if query.time_grain is not None:
        return [sql.Literal(1)]
    if grouped and has_measures:
        return [sql.SQL("{} DESC NULLS LAST").format(sql.Literal(grouped + 1))]
    return [sql.Literal(i) for i in range(1, grouped + 1)]


def _aggregate(measure: Measure) -> sql.Composable:
    where = f"measure `{measure.name}`"
    if measure.aggregation == "none":
        return sql.SQL("({})").format(_fragment(measure.sql, where))
    counts_rows = measure.sql.strip() == "*" and measure.aggregation == "count"
    inner = sql.SQL("*") if counts_rows else _fragment(measure.sql, where)
    return sql.SQL(_AGGREGATES[measure.aggregation]).format(inner)


def dimension_expression(dimension: Dimension) -> sql.Composable:
    """The SQL of a dimension: its quoted column, or its checked expression in parentheses."""
    if dimension.column is not None:
        return sql.Identifier(dimension.column)
    return sql.SQL("({})").format(_fragment(dimension.sql or "", f"dimension `{dimension.name}`"))


def _fragment(expression: str, where: str) -> sql.Composable:
    """A model expression, checked (again) as it is written; `%` is doubled so the driver does
    not read it as a placeholder."""
    return sql.SQL(checked_expression(expression, where=where).replace("%", "%%"))


def _ident(name: str) -> sql.Composable:
    return sql.Identifier(name)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _names(dimensions: tuple[Dimension, ...]) -> str:
    return ", ".join(d.name for d in dimensions) or "none"
