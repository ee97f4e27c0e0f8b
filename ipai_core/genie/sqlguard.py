"""Free SQL, checked before it runs: parsed with sqlglot (PostgreSQL dialect), exactly one SELECT
(set operations of SELECTs included), nothing that writes (no DML or DDL anywhere, including
data-modifying CTEs; no SELECT INTO; no FOR UPDATE), every table in an allowed schema, and only
functions known to be free of side effects.

The SQL that runs is the one sqlglot writes back from the checked tree, with the row limit put
into it — never the original text — so what was checked is exactly what executes. The caller
also runs it read-only, as the asking user, with a statement timeout (defence in depth):
this check refuses `set_config('request.jwt.claims', …)`, which would otherwise let a query
rewrite its own identity inside the transaction.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

import sqlglot
from sqlglot import exp

from ipai_core.errors import UnsafeSql

# Functions sqlglot does not model as a typed expression but that are plainly read-only.
_SAFE_TEXT = """age cardinality make_date make_time make_timestamp make_timestamptz make_interval
    justify_days justify_hours justify_interval isfinite date_part to_timestamp to_char
    percent_rank cume_dist first_value last_value nth_value lead dense_rank bool_or every
    stddev_pop stddev_samp var_pop var_samp regr_slope regr_intercept regr_r2 covar_pop
    covar_samp num_nulls num_nonnulls btrim ltrim rtrim lpad rpad split_part initcap
    array_length array_position unnest jsonb_array_length jsonb_typeof json_typeof
    width_bucket scale sign div mod log ln exp power sqrt cbrt degrees radians pi"""
SAFE_UNTYPED_FUNCTIONS = frozenset(_SAFE_TEXT.split())
# Belt and braces: typed or not, these never pass (side effects, other sessions, files, SQL
# strings executed inside the query).
_DENIED_TEXT = """set_config pg_sleep pg_sleep_for pg_sleep_until nextval setval currval lastval
    pg_advisory_lock pg_advisory_xact_lock pg_try_advisory_lock pg_notify pg_cancel_backend
    pg_terminate_backend pg_reload_conf pg_rotate_logfile pg_read_file pg_read_binary_file
    pg_ls_dir pg_stat_file lo_import lo_export lo_get lo_put dblink dblink_exec query_to_xml
    query_to_xml_and_xmlschema cursor_to_xml table_to_xml database_to_xml schema_to_xml
    ts_stat ts_rewrite xpath_table current_setting pg_logical_emit_message txid_current
    pg_current_xact_id"""
DENIED_FUNCTIONS = frozenset(_DENIED_TEXT.split())
_WRITES: tuple[type[exp.Expr], ...] = (
    *(exp.DML, exp.DDL, exp.Into, exp.Lock, exp.Command, exp.Set, exp.Transaction),
    *(exp.Commit, exp.Rollback, exp.Drop, exp.Alter, exp.TruncateTable, exp.Grant),
)


def check_select(sql: str, *, allowed_schemas: Sequence[str], row_limit: int) -> str:
    """The SQL to run for `sql`, with `LIMIT row_limit` applied; `UnsafeSql` when it is not one
    read-only SELECT over `allowed_schemas` (exact names or patterns like `ipai_gold_*`), or
    when it asks for more than `row_limit` rows."""
    tree = _parse(sql)
    _require_read_only(tree, sql)
    _require_tables_in(tree, allowed_schemas, sql)
    _require_safe_functions(tree, sql)
    return _limited(tree, row_limit, sql).sql(dialect="postgres")


def _parse(sql: str) -> exp.Select | exp.SetOperation:
    try:
        statements = [s for s in sqlglot.parse(sql, dialect="postgres") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise UnsafeSql(f"it does not parse as PostgreSQL ({_first_line(exc)})", sql=sql) from exc
    if len(statements) != 1:
        raise UnsafeSql(f"expected exactly one statement, found {len(statements)}", sql=sql)
    tree = statements[0]
    while isinstance(tree, exp.Subquery | exp.Paren) and tree.this is not None:
        tree = tree.this
    if not isinstance(tree, exp.Select | exp.SetOperation):
        raise UnsafeSql(f"only SELECT is allowed, not {tree.key.upper()}", sql=sql)
    return tree


def _require_read_only(tree: exp.Expression, sql: str) -> None:
    for node in tree.walk():
        if isinstance(node, _WRITES):
            raise UnsafeSql(f"`{node.key.upper()}` is not allowed in a read-only query", sql=sql)


def _require_tables_in(tree: exp.Expression, allowed: Sequence[str], sql: str) -> None:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Func):  # a function in FROM
            schema = table.db
            if not schema or not _allowed(schema, allowed):
                raise UnsafeSql(
                    f"table function `{table.this.sql(dialect='postgres')}` is not in an "
                    f"allowed schema ({', '.join(allowed)})",
                    sql=sql,
                )
            continue
        if table.catalog:
            raise UnsafeSql(f"`{table.sql(dialect='postgres')}` names another database", sql=sql)
        if not table.db:
            if table.name in ctes:
                continue
            raise UnsafeSql(
                f"`{table.name}` has no schema; qualify it, e.g. `ipai_gold_erp.{table.name}`",
                sql=sql,
            )
        if not _allowed(table.db, allowed):
            raise UnsafeSql(
                f"schema `{table.db}` is outside the allowed ones ({', '.join(allowed)})", sql=sql
            )


def _require_safe_functions(tree: exp.Expression, sql: str) -> None:
    table_functions = {id(t.this) for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Func)}
    for node in tree.find_all(exp.Func):
        name = _function_name(node)
        if name in DENIED_FUNCTIONS:
            raise UnsafeSql(f"function `{name}` is not allowed", sql=sql)
        untyped = isinstance(node, exp.Anonymous) and id(node) not in table_functions
        if untyped and name not in SAFE_UNTYPED_FUNCTIONS:
            raise UnsafeSql(f"function `{name}` is not on the list of safe functions", sql=sql)


def _limited(tree: exp.Select | exp.SetOperation, row_limit: int, sql: str) -> exp.Expression:
    """`tree` returning at most `row_limit` rows. A literal LIMIT within it is kept; one over it
    is refused (asking for more rows than allowed is a mistake worth saying, not trimming)."""
    if isinstance(tree, exp.Select):
        current = tree.args.get("limit")
        existing = current.expression if isinstance(current, exp.Limit) else None
        if isinstance(existing, exp.Literal) and existing.is_int:
            if int(existing.this) > row_limit:
                raise UnsafeSql(
                    f"LIMIT {existing.this} is over the row limit of {row_limit}; ask for fewer "
                    "rows or aggregate",
                    sql=sql,
                )
            return tree
        if current is None:
            return tree.limit(row_limit, copy=True)
    return exp.select("*").from_(tree.subquery("genie_result")).limit(row_limit)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def _allowed(schema: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(schema.lower(), p.lower()) for p in patterns)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
