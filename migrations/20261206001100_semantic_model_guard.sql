-- Semantic models are checked by the database when they are saved (issue 16): data engineers edit
-- public.ipai_semantic_model, and every finance or DevOps user's Genie question runs its
-- expressions, so an expression is code that runs as someone else. A BEFORE INSERT OR UPDATE
-- trigger refuses a row whose source view is outside gold and platinum, or one of whose measure or
-- dimension expressions fails public.ipai_sql_expression_problem (a function off the allowlist, a
-- qualified or quoted call, a subquery, `;`, a comment, …). It fires for every role, the service
-- role and the owner included. Python checks the same when a model is built, saved and compiled
-- (ipai_core.semantic.models); this is the check that holds when someone writes SQL directly.
--
-- The rows already stored are checked once, below: the migration fails, naming them, when one is
-- bad, rather than leave a model the trigger would refuse on its next edit.

CREATE OR REPLACE FUNCTION public.ipai_semantic_model_problem(p_model public.ipai_semantic_model)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public AS $fn$
DECLARE
  kind text;
  items jsonb;
  item jsonb;
  problem text;
BEGIN
  IF split_part(p_model.source_view, '.', 1) !~ '^ipai_(gold|platinum)_[a-z0-9_]+$' THEN
    RETURN format('source view `%s` is not in a gold or platinum schema', p_model.source_view);
  END IF;
  FOR kind, items IN VALUES ('measure', p_model.measures), ('dimension', p_model.dimensions) LOOP
    IF jsonb_typeof(items) IS DISTINCT FROM 'array' THEN
      RETURN format('the %ss are not a JSON array', kind);
    END IF;
    FOR item IN SELECT value FROM jsonb_array_elements(items) LOOP
      IF jsonb_typeof(item) <> 'object' THEN
        RETURN format('a %s is not a JSON object: `%s`', kind, item);
      END IF;
      IF jsonb_typeof(item -> 'column') NOT IN ('string', 'null')
         OR (item ->> 'column') !~ '^[a-z_][a-z0-9_]*$' THEN
        RETURN format('%s `%s`: column `%s` is not a plain column name', kind,
                      item ->> 'name', item -> 'column');
      END IF;
      CONTINUE WHEN NOT item ? 'sql' OR jsonb_typeof(item -> 'sql') = 'null';
      IF jsonb_typeof(item -> 'sql') <> 'string' THEN
        RETURN format('%s `%s`: sql is not a string', kind, item ->> 'name');
      END IF;
      problem := public.ipai_sql_expression_problem(item ->> 'sql');
      IF problem IS NOT NULL THEN
        RETURN format('%s `%s`: %s', kind, item ->> 'name', problem);
      END IF;
    END LOOP;
  END LOOP;
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION public.ipai_semantic_model_problem(public.ipai_semantic_model) IS
  'Why a semantic model row may not be stored, or NULL: a source view outside gold/platinum, a '
  'malformed measure or dimension, or an expression refused by ipai_sql_expression_problem.';

CREATE OR REPLACE FUNCTION public.ipai_semantic_model_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $fn$
DECLARE
  problem text := public.ipai_semantic_model_problem(NEW);
BEGIN
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION 'semantic model `%` refused: %', NEW.dataset, problem
      USING ERRCODE = 'insufficient_privilege',
            CONSTRAINT = 'semantic_model_expressions',
            SCHEMA = 'public',
            TABLE = 'ipai_semantic_model',
            HINT = 'An expression is one SQL expression over the view''s columns that calls only '
                   'the functions in public.ipai_sql_function_allowlist, unqualified.';
  END IF;
  RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION public.ipai_semantic_model_guard() IS
  'BEFORE INSERT OR UPDATE trigger of ipai_semantic_model: refuses a row that '
  'ipai_semantic_model_problem finds a problem with (SQLSTATE 42501, constraint '
  'semantic_model_expressions).';

DROP TRIGGER IF EXISTS semantic_model_guard ON public.ipai_semantic_model;
CREATE TRIGGER semantic_model_guard BEFORE INSERT OR UPDATE ON public.ipai_semantic_model
  FOR EACH ROW EXECUTE FUNCTION public.ipai_semantic_model_guard();

DO $check$
DECLARE
  bad text;
BEGIN
  SELECT string_agg(format('`%s`: %s', m.dataset, public.ipai_semantic_model_problem(m)), '; '
                    ORDER BY m.dataset)
    INTO bad
    FROM public.ipai_semantic_model m
   WHERE public.ipai_semantic_model_problem(m) IS NOT NULL;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'stored semantic models fail the expression check: %', bad
      USING HINT = 'Fix or delete these rows in an earlier migration, then migrate again.';
  END IF;
END
$check$;
