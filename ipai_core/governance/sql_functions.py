"""The SQL functions a query may call — one allowlist for Genie's free SQL (`genie.sqlguard`) and
for semantic-model expressions (`semantic.models`), and the lexical check of an expression that
the database runs too.

Where the list lives: here, in Python. Migration `20261206001000_sql_function_allowlist.sql`
copies it into `public.ipai_sql_function_allowlist`, which the database's own check of semantic
models (`public.ipai_sql_expression_problem`) reads, and `tests/security/test_sql_guards.py`
fails when the table and these sets differ by one name. Python is the source rather than the
table because every check that uses it is pure — a model is validated when it is built, a free
SELECT before any connection is taken, in tests without a database — and a list read from the
database would need a connection (and a cache to invalidate) in each of those places. Adding a
function therefore takes two edits, here and in a new migration, and the test holds them equal.

`ALLOWED_FUNCTIONS` are names that may be called (`name(`), including the SQL-standard special
forms that look like calls (`cast(`, `coalesce(`, `extract(`, …); `CALL_SYNTAX` are keywords that
may stand before `(` without calling anything (`in (`, `over (`, `filter (`, …). No name is ever
schema-qualified or quoted: an unqualified built-in resolves to `pg_catalog`, which is searched
first. `DENIED_FUNCTIONS` may never join the allowlist (a test holds the two disjoint).
"""

from __future__ import annotations

import re

_AGGREGATES = """avg count max min sum array_agg string_agg bool_and bool_or every stddev
    stddev_pop stddev_samp variance var_pop var_samp corr covar_pop covar_samp regr_slope
    regr_intercept regr_r2 regr_count regr_avgx regr_avgy percentile_cont percentile_disc mode
    json_agg jsonb_agg json_object_agg jsonb_object_agg"""
_WINDOWS = """row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
    last_value nth_value"""
_SPECIAL_FORMS = "cast coalesce nullif greatest least extract position substring trim overlay"
_MATH = """abs ceil ceiling floor round trunc sign sqrt cbrt power pow exp ln log log10 mod div pi
    degrees radians width_bucket scale gcd lcm num_nulls num_nonnulls"""
_TEXT = """lower upper initcap length char_length character_length octet_length substr strpos
    replace btrim ltrim rtrim lpad rpad left right concat concat_ws split_part repeat reverse
    translate format starts_with regexp_replace regexp_match regexp_matches regexp_split_to_array
    regexp_count regexp_substr regexp_like regexp_instr md5 to_hex ascii chr string_to_array
    array_to_string"""
_TIME = """now date_trunc date_part date_bin age make_date make_time make_timestamp
    make_timestamptz make_interval justify_days justify_hours justify_interval isfinite
    to_timestamp to_date to_char to_number timezone statement_timestamp transaction_timestamp"""
_JSON = """to_json to_jsonb row_to_json json_build_object jsonb_build_object json_build_array
    jsonb_build_array json_array_length jsonb_array_length json_typeof jsonb_typeof
    json_extract_path json_extract_path_text jsonb_extract_path jsonb_extract_path_text
    json_array_elements jsonb_array_elements json_array_elements_text jsonb_array_elements_text
    json_each jsonb_each json_each_text jsonb_each_text json_object_keys jsonb_object_keys
    jsonb_strip_nulls jsonb_pretty"""
_ARRAYS = """array_length array_position array_positions array_remove array_append array_prepend
    array_cat array_lower array_upper cardinality unnest generate_series"""
ALLOWED_FUNCTIONS = frozenset(
    " ".join((_AGGREGATES, _WINDOWS, _SPECIAL_FORMS, _MATH, _TEXT, _TIME, _JSON, _ARRAYS)).split()
)
_SYNTAX = """in and or not when then else case over filter group by partition order distinct
    from for between like ilike similar to zone escape any all some exists array row placing
    varying"""
CALL_SYNTAX = frozenset(_SYNTAX.split())
# Belt and braces: these never pass, whatever the allowlist says (side effects, other sessions,
# files, the network, settings, SQL strings executed inside the query).
_DENIED = """set_config current_setting pg_sleep pg_sleep_for pg_sleep_until nextval setval currval
    lastval pg_advisory_lock pg_advisory_xact_lock pg_try_advisory_lock pg_notify
    pg_cancel_backend pg_terminate_backend pg_reload_conf pg_rotate_logfile pg_read_file
    pg_read_binary_file pg_ls_dir pg_stat_file lo_import lo_export lo_get lo_put lo_open
    lo_from_bytea dblink dblink_exec dblink_connect query_to_xml query_to_xml_and_xmlschema
    cursor_to_xml table_to_xml database_to_xml schema_to_xml ts_stat ts_rewrite xpath_table
    pg_logical_emit_message txid_current pg_current_xact_id"""
DENIED_FUNCTIONS = frozenset(_DENIED.split())

# The lexical check of a semantic-model expression, mirrored line for line by
# `public.ipai_sql_expression_problem` (migration 20261206001000). It reads the text as written,
# string literals included (stricter than needed, never looser), because that text is what the
# compiler puts into the SQL that runs.
FORBIDDEN_SEQUENCES = (";", "--", "/*", "*/", "$", "\\", 'u&"')
FORBIDDEN_WORDS = ("select", "table", "values", "insert", "update", "delete", "merge")
_FORBIDDEN_WORD = re.compile(r"\b(" + "|".join(FORBIDDEN_WORDS) + r")\b", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")
_SPACE = " \t\n\r"


def expression_problem(expression: str) -> str | None:
    """Why `expression` may not be stored or run as a semantic-model expression, or None.

    Refused: `;`, comments, `$` (dollar quoting, parameters), backslashes (escape strings),
    Unicode-escaped identifiers, control characters, the words that start a statement or
    subquery (`select`, `table`, `values`, … — looked for in strings too, stricter than
    needed), a string or quoted name left open, parentheses that do not balance (so the text
    cannot close the parenthesis the compiler wraps it in), and every `(` that follows a quoted
    name, a string, a schema-qualified name, or a name that is neither on `ALLOWED_FUNCTIONS`
    nor in `CALL_SYNTAX`, except a type's modifiers after `::` or `AS` (`numeric(12, 2)`).
    Without backslashes, dollar quotes and comments, telling what is inside a string or a
    quoted name (`'it''s'`, `"a""b"`) from what is not is exact, as PostgreSQL lexes it.
    """
    lowered = expression.lower()
    for sequence in FORBIDDEN_SEQUENCES:
        if sequence in lowered:
            return f"`{sequence}` is not allowed in an expression"
    if _CONTROL.search(expression):
        return "control characters are not allowed in an expression"
    word = _FORBIDDEN_WORD.search(expression)
    if word:
        return (
            f"`{word.group(1).lower()}` is not allowed: an expression has no subquery or statement"
        )
    depth, quote = 0, ""
    for position, char in enumerate(expression):
        if char in "'\"" and quote in ("", char):
            quote = "" if quote else char  # `''` and `""` close and reopen: still inside
        elif char == "(" and not quote:
            problem = _call_problem(expression, position)
            if problem:
                return problem
            depth += 1
        elif char == ")" and not quote:
            depth -= 1
            if depth < 0:
                return "a `)` closes more than the expression opened"
    if quote:
        return f"a `{quote}` is not closed"
    return "its parentheses do not balance" if depth else None


def _call_problem(text: str, paren: int) -> str | None:
    end = _skip_space_back(text, paren)
    if end == 0:
        return None
    last = text[end - 1]
    if last == '"':
        return "a quoted name is called; call functions by their plain name, e.g. `lower(x)`"
    if last == "'":
        return "a string is followed by `(`"
    if not _is_name_char(last):
        return None  # an operator, a comma or a bracket: a parenthesised sub-expression
    start = end
    while start > 0 and _is_name_char(text[start - 1]):
        start -= 1
    name = text[start:end].lower() if text[start:end].isascii() else text[start:end]
    before = _skip_space_back(text, start)
    if before and text[before - 1] == ".":
        return f"the call `{text[start:end]}(` is schema-qualified; use the plain name"
    if text[max(before - 2, 0) : before] == "::" or _is_word_as(text, before):
        return None  # a type's modifiers: numeric(12, 2)
    if name in ALLOWED_FUNCTIONS or name in CALL_SYNTAX:
        return None
    return f"function `{name}` is not on the allowlist (public.ipai_sql_function_allowlist)"


def _skip_space_back(text: str, end: int) -> int:
    while end > 0 and text[end - 1] in _SPACE:
        end -= 1
    return end


def _is_word_as(text: str, end: int) -> bool:
    if end < 2 or text[end - 2 : end].lower() != "as":
        return False
    return end == 2 or not _is_name_char(text[end - 3])


def _is_name_char(char: str) -> bool:
    """A character PostgreSQL's lexer reads as part of a name: ASCII letters, digits, `_`, `$`
    and every non-ASCII character."""
    return not char.isascii() or char.isalnum() or char in "_$"
