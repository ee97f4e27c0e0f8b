-- The one list of SQL functions a query may call (issue 16): Genie's free SQL and the expressions of
-- semantic models. Its source is ipai_core/governance/sql_functions.py (ALLOWED_FUNCTIONS and
-- CALL_SYNTAX); this table is the copy the database's own checks read, and
-- tests/security/test_sql_guards.py fails when the two differ by one name. A function joins the
-- list with an edit there and a new migration here, never by a write at runtime: nobody but the
-- owner may change the table.
--
-- public.ipai_sql_expression_problem(text) is the lexical check of one semantic-model expression,
-- line for line the same as ipai_core.governance.sql_functions.expression_problem. PL/pgSQL does not
-- parse SQL, so it is conservative: it refuses backslashes, dollar quotes and comments, which makes
-- telling what is inside a string or quoted name from what is not exact; outside them,
-- parentheses must balance (an expression cannot close the parenthesis the compiler wraps it in)
-- and every ( must follow an operator or an allowlisted, unqualified, unquoted name. The words
-- that start a subquery or statement are refused anywhere, strings included.

CREATE TABLE IF NOT EXISTS public.ipai_sql_function_allowlist (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    CONSTRAINT sql_function_allowlist_name CHECK (name ~ '^[a-z_][a-z0-9_]*$'),
    CONSTRAINT sql_function_allowlist_kind CHECK (kind IN ('function', 'syntax'))
);
COMMENT ON TABLE public.ipai_sql_function_allowlist IS
  'SQL functions that free SQL and semantic-model expressions may call (kind function), and '
  'keywords that may stand before a parenthesis without calling anything (kind syntax). Copied '
  'from ipai_core/governance/sql_functions.py; change both together.';
COMMENT ON COLUMN public.ipai_sql_function_allowlist.name IS
  'Unqualified, lower-case name: a pg_catalog function, an SQL special form (cast, coalesce, …) '
  'or a keyword.';
COMMENT ON COLUMN public.ipai_sql_function_allowlist.kind IS
  'function: may be called as name(…); syntax: a keyword such as IN or OVER before a parenthesis.';

ALTER TABLE public.ipai_sql_function_allowlist ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_sql_function_allowlist FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_sql_function_allowlist TO authenticated, service_role, ipai_agents;
DROP POLICY IF EXISTS sql_function_allowlist_read ON public.ipai_sql_function_allowlist;
CREATE POLICY sql_function_allowlist_read ON public.ipai_sql_function_allowlist
  FOR SELECT TO authenticated, service_role, ipai_agents USING (true);

INSERT INTO public.ipai_sql_function_allowlist (name, kind)
SELECT name, 'function' FROM regexp_split_to_table($names$
    abs age array_agg array_append array_cat array_length array_lower array_position
    array_positions array_prepend array_remove array_to_string array_upper ascii avg bool_and
    bool_or btrim cardinality cast cbrt ceil ceiling char_length character_length chr coalesce
    concat concat_ws corr count covar_pop covar_samp cume_dist date_bin date_part date_trunc
    degrees dense_rank div every exp extract first_value floor format gcd generate_series
    greatest initcap isfinite json_agg json_array_elements json_array_elements_text
    json_array_length json_build_array json_build_object json_each json_each_text
    json_extract_path json_extract_path_text json_object_agg json_object_keys json_typeof
    jsonb_agg jsonb_array_elements jsonb_array_elements_text jsonb_array_length
    jsonb_build_array jsonb_build_object jsonb_each jsonb_each_text jsonb_extract_path
    jsonb_extract_path_text jsonb_object_agg jsonb_object_keys jsonb_pretty jsonb_strip_nulls
    jsonb_typeof justify_days justify_hours justify_interval lag last_value lcm lead least
    left length ln log log10 lower lpad ltrim make_date make_interval make_time make_timestamp
    make_timestamptz max md5 min mod mode now nth_value ntile nullif num_nonnulls num_nulls
    octet_length overlay percent_rank percentile_cont percentile_disc pi position pow power
    radians rank regexp_count regexp_instr regexp_like regexp_match regexp_matches
    regexp_replace regexp_split_to_array regexp_substr regr_avgx regr_avgy regr_count
    regr_intercept regr_r2 regr_slope repeat replace reverse right round row_number
    row_to_json rpad rtrim scale sign split_part sqrt starts_with statement_timestamp stddev
    stddev_pop stddev_samp string_agg string_to_array strpos substr substring sum timezone
    to_char to_date to_hex to_json to_jsonb to_number to_timestamp transaction_timestamp
    translate trim trunc unnest upper var_pop var_samp variance width_bucket
$names$, '\s+') AS name WHERE name <> ''
UNION ALL
SELECT name, 'syntax' FROM regexp_split_to_table($names$
    all and any array between by case distinct else escape exists filter for from group ilike
    in like not or order over partition placing row similar some then to varying when zone
$names$, '\s+') AS name WHERE name <> ''
ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind;

CREATE OR REPLACE FUNCTION public.ipai_sql_is_name_char(p_char text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog AS $fn$
  SELECT p_char ~ '^[A-Za-z0-9_$]$' OR ascii(p_char) > 127
$fn$;
COMMENT ON FUNCTION public.ipai_sql_is_name_char(text) IS
  'Whether PostgreSQL''s lexer reads the character as part of a name: ASCII letters, digits, _, $ '
  'and every non-ASCII character.';

CREATE OR REPLACE FUNCTION public.ipai_sql_expression_problem(p_expression text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public AS $fn$
DECLARE
  lowered text := lower(p_expression);
  len int := length(p_expression);
  forbidden text;
  word text;
  pos int;
  e int;     -- the last character before the parenthesis
  s int;     -- the first character of the name before it
  b int;     -- the last character before that name
  depth int := 0;  -- parentheses open outside strings and quoted names
  quote text := '';  -- the quote character of the string or name being read, if any
  ch text;
BEGIN
  IF p_expression IS NULL THEN
    RETURN 'the expression is missing';
  END IF;
  FOREACH forbidden IN ARRAY ARRAY[';', '--', '/*', '*/', '$', chr(92), 'u&"'] LOOP
    IF strpos(lowered, forbidden) > 0 THEN
      RETURN format('`%s` is not allowed in an expression', forbidden);
    END IF;
  END LOOP;
  IF p_expression ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]' THEN
    RETURN 'control characters are not allowed in an expression';
  END IF;
  word := substring(lowered FROM '\m(select|table|values|insert|update|delete|merge)\M');
  IF word IS NOT NULL THEN
    RETURN format('`%s` is not allowed: an expression has no subquery or statement', word);
  END IF;

  FOR pos IN 1 .. len LOOP
    ch := substr(p_expression, pos, 1);
    IF ch IN ('''', '"') AND quote IN ('', ch) THEN
      -- '' and "" close and reopen: still inside.
      quote := CASE WHEN quote = '' THEN ch ELSE '' END;
      CONTINUE;
    END IF;
    IF ch = ')' AND quote = '' THEN
      depth := depth - 1;
      IF depth < 0 THEN
        RETURN 'a `)` closes more than the expression opened';
      END IF;
    END IF;
    CONTINUE WHEN ch <> '(' OR quote <> '';
    depth := depth + 1;
    e := pos - 1;
    WHILE e >= 1 AND substr(p_expression, e, 1) IN (' ', E'\t', E'\n', E'\r') LOOP
      e := e - 1;
    END LOOP;
    CONTINUE WHEN e = 0;
    IF substr(p_expression, e, 1) = '"' THEN
      RETURN 'a quoted name is called; call functions by their plain name, e.g. `lower(x)`';
    END IF;
    IF substr(p_expression, e, 1) = '''' THEN
      RETURN 'a string is followed by `(`';
    END IF;
    -- An operator, a comma or a bracket before it: a parenthesised sub-expression.
    CONTINUE WHEN NOT public.ipai_sql_is_name_char(substr(p_expression, e, 1));
    s := e;
    WHILE s > 1 AND public.ipai_sql_is_name_char(substr(p_expression, s - 1, 1)) LOOP
      s := s - 1;
    END LOOP;
    word := substr(p_expression, s, e - s + 1);
    b := s - 1;
    WHILE b >= 1 AND substr(p_expression, b, 1) IN (' ', E'\t', E'\n', E'\r') LOOP
      b := b - 1;
    END LOOP;
    IF b >= 1 AND substr(p_expression, b, 1) = '.' THEN
      RETURN format('the call `%s(` is schema-qualified; use the plain name', word);
    END IF;
    -- A type's modifiers, after :: or AS: numeric(12, 2).
    CONTINUE WHEN b >= 2 AND substr(p_expression, b - 1, 2) = '::';
    CONTINUE WHEN b >= 2 AND lower(substr(p_expression, b - 1, 2)) = 'as'
              AND (b = 2 OR NOT public.ipai_sql_is_name_char(substr(p_expression, b - 2, 1)));
    -- Only ASCII names are compared: PostgreSQL folds nothing else, lower() would.
    CONTINUE WHEN octet_length(word) = length(word)
              AND EXISTS (SELECT 1 FROM public.ipai_sql_function_allowlist a
                           WHERE a.name = lower(word));
    RETURN format('function `%s` is not on the allowlist (public.ipai_sql_function_allowlist)',
                  lower(word));
  END LOOP;
  IF quote <> '' THEN
    RETURN format('a `%s` is not closed', quote);
  END IF;
  IF depth <> 0 THEN
    RETURN 'its parentheses do not balance';
  END IF;
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION public.ipai_sql_expression_problem(text) IS
  'Why a semantic-model expression may not be stored, or NULL: ;, comments, $, backslashes, '
  'control characters, select/table/values/insert/update/delete/merge, an unclosed string, '
  'unbalanced parentheses, and any '
  '( after a quoted, qualified or non-allowlisted name (see public.ipai_sql_function_allowlist).';
