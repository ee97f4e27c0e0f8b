"""Free SQL, checked before it runs: parsed with sqlglot (PostgreSQL dialect), exactly one SELECT
(set operations of SELECTs included), nothing that writes (no DML or DDL anywhere, including
data-modifying CTEs; no SELECT INTO; no FOR UPDATE), every table in an allowed schema, and only
the functions of the one allowlist (`governance.sql_functions`, shared with semantic models).

Lexically: no `;`, no comments, no dollar quoting or parameters, no quoted or Unicode-escaped
name before `(`. Tables: a name defined by a CTE of the query may be used unqualified where
PostgreSQL would see that CTE — in the query it belongs to and its subqueries, in the CTEs after
it, and in its own body only under `WITH RECURSIVE` — and any other table must be qualified with
an allowed schema; a qualified name is never a CTE. So `WITH x AS (SELECT * FROM pg_authid) …`
and `WITH pg_authid AS (SELECT * FROM pg_authid) …` are refused (`pg_authid` there is the
catalog table, and unqualified). Functions: every call must be on the allowlist, unqualified;
a table function in FROM may instead be qualified with an allowed schema (the platform's own,
e.g. `ipai_gold_erp.balance_sheet_at(date)`).

The SQL that runs is the one sqlglot writes back from the checked tree, with the row limit put
into it — never the original text — and that text is parsed and checked once more, so what was
checked is exactly what executes. The caller also runs it read-only, as the asking user, with a
statement timeout (defence in depth).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

import sqlglot
from sqlglot import Token, TokenType, exp

from ipai_core.errors import UnsafeSql
from ipai_core.governance.sql_functions import ALLOWED_FUNCTIONS, CALL_SYNTAX, DENIED_FUNCTIONS

_WRITES: tuple[type[exp.Expr], ...] = (
    *(exp.DML, exp.DDL, exp.Into, exp.Lock, exp.Command, exp.Set, exp.Transaction),
    *(exp.Commit, exp.Rollback, exp.Drop, exp.Alter, exp.TruncateTable, exp.Grant),
)
_LEXICAL_REFUSALS = {
    TokenType.SEMICOLON: "`;` is not allowed: send one statement without it",
    TokenType.HEREDOC_STRING: "dollar-quoted strings are not allowed; use '…'",
    TokenType.PARAMETER: "parameters (`$1`) are not allowed; write the value",
    TokenType.PLACEHOLDER: "placeholders are not allowed; write the value",
}
_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def check_select(sql: str, *, allowed_schemas: Sequence[str], row_limit: int) -> str:
    """The SQL to run for `sql`, with `LIMIT row_limit` applied; `UnsafeSql` when it is not one
    read-only SELECT over `allowed_schemas` (exact names or patterns like `ipai_gold_*`) that
    calls only allowlisted functions, or when it asks for more than `row_limit` rows."""
    checked = _checked(sql, allowed_schemas, row_limit)
    if _checked(checked, allowed_schemas, row_limit) != checked:
        raise UnsafeSql("it does not read the same once rewritten; simplify it", sql=sql)
    return checked


def _checked(sql: str, allowed_schemas: Sequence[str], row_limit: int) -> str:
    _require_plain_tokens(sql)
    tree = _parse(sql)
    _require_read_only(tree, sql)
    _require_no_comments(tree, sql)
    _require_tables(tree, frozenset(), allowed_schemas, sql)
    _require_allowed_calls(tree, sql)
    return _limited(tree, row_limit, sql).sql(dialect="postgres")


def _require_plain_tokens(sql: str) -> None:
    try:
        tokens = sqlglot.tokenize(sql, dialect="postgres")
    except sqlglot.errors.SqlglotError as exc:
        raise UnsafeSql(f"it does not parse as PostgreSQL ({_first_line(exc)})", sql=sql) from exc
    for i, token in enumerate(tokens):
        before = tokens[i - 1] if i else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.comments:
            raise UnsafeSql("comments are not allowed; remove them", sql=sql)
        if token.token_type in _LEXICAL_REFUSALS:
            raise UnsafeSql(_LEXICAL_REFUSALS[token.token_type], sql=sql)
        if _is_quoted_call(token, after):
            raise UnsafeSql(
                f'the quoted name `"{token.text}"` is followed by `(`; call functions by their '
                "plain name",
                sql=sql,
            )
        if _is_unicode_escape(before, token):
            raise UnsafeSql("Unicode-escaped names and strings (`U&`) are not allowed", sql=sql)


def _is_quoted_call(token: Token, after: Token | None) -> bool:
    return token.token_type == TokenType.IDENTIFIER and (
        after is not None and after.token_type == TokenType.L_PAREN
    )


def _is_unicode_escape(before: Token | None, token: Token) -> bool:
    return (
        token.token_type == TokenType.AMP
        and before is not None
        and before.text.lower() == "u"
        and before.end + 1 == token.start
    )


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


def _require_no_comments(tree: exp.Expression, sql: str) -> None:
    if any(node.comments for node in tree.walk()):
        raise UnsafeSql("comments are not allowed; remove them", sql=sql)


def _require_tables(
    node: exp.Expression, ctes: frozenset[str], allowed: Sequence[str], sql: str
) -> None:
    """Every table reference under `node`, where `ctes` are the CTE names PostgreSQL resolves an
    unqualified name to at that point (see the module docstring for the scoping rules)."""
    with_ = node.args.get("with_")
    if isinstance(with_, exp.With):
        names = [_key(cte.args["alias"].this) for cte in with_.expressions]
        recursive = bool(with_.args.get("recursive"))
        for i, cte in enumerate(with_.expressions):
            visible = names[: i + 1] if recursive else names[:i]
            _require_tables(cte.this, ctes | frozenset(visible), allowed, sql)
        ctes = ctes | frozenset(names)
    if isinstance(node, exp.Table):
        _require_table(node, ctes, allowed, sql)
    for child in node.iter_expressions():
        if child is not with_:
            _require_tables(child, ctes, allowed, sql)


def _require_table(
    table: exp.Table, ctes: frozenset[str], allowed: Sequence[str], sql: str
) -> None:
    shown = table.sql(dialect="postgres")
    if table.args.get("catalog"):
        raise UnsafeSql(f"`{shown}` names another database", sql=sql)
    schema = table.args.get("db")
    if isinstance(table.this, exp.Func):  # a table function: unqualified ones are calls
        if schema is not None and not _allowed(_key(schema), allowed):
            raise UnsafeSql(
                f"table function `{shown}` is not in an allowed schema ({', '.join(allowed)})",
                sql=sql,
            )
        return
    if not isinstance(table.this, exp.Identifier):
        raise UnsafeSql(f"`{shown}` is not a table reference this check understands", sql=sql)
    if schema is None:
        if _key(table.this) in ctes:
            return
        raise UnsafeSql(
            f"`{table.name}` has no schema and is not a CTE of the query; qualify it, e.g. "
            f"`ipai_gold_erp.{table.name}`",
            sql=sql,
        )
    if not _allowed(_key(schema), allowed):
        raise UnsafeSql(
            f"schema `{schema.name}` is outside the allowed ones ({', '.join(allowed)})", sql=sql
        )


def _require_allowed_calls(tree: exp.Expression, sql: str) -> None:
    for node in tree.find_all(exp.Func):
        table = node.parent if isinstance(node.parent, exp.Table) else None
        if table is not None and table.this is node and table.args.get("db") is not None:
            continue  # a table function of an allowed schema (checked with the tables)
        if isinstance(node.parent, exp.Dot):
            raise UnsafeSql(
                f"the call `{node.parent.sql(dialect='postgres')}` is schema-qualified; "
                "call allowlisted functions by their plain name",
                sql=sql,
            )
        name = _call_name(node)
        if name is None:
            continue
        if name in DENIED_FUNCTIONS or name not in ALLOWED_FUNCTIONS | CALL_SYNTAX:
            raise UnsafeSql(
                f"function `{name}` is not on the allowlist (public.ipai_sql_function_allowlist)",
                sql=sql,
            )


def _call_name(node: exp.Func) -> str | None:
    """The name PostgreSQL calls for `node` as sqlglot writes it (`TimestampTrunc` is written
    `DATE_TRUNC(…)`), or None when it is written as syntax without a call (`CASE …`,
    `CURRENT_DATE`). A quoted name is refused by the lexical check before this runs."""
    if isinstance(node, exp.Anonymous):
        this = node.args.get("this")
        if isinstance(this, exp.Identifier) and this.quoted:
            return f'"{this.name}"'
        return node.name.lower()
    written = _CALL.match(node.sql(dialect="postgres"))
    return written.group(1).lower() if written else None


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


def _key(identifier: exp.Expression) -> str:
    """A name as PostgreSQL compares it: folded to lower case unless quoted."""
    if isinstance(identifier, exp.Identifier) and identifier.quoted:
        return identifier.name
    return identifier.name.lower()


def _allowed(schema: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(schema, p.lower()) for p in patterns)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
