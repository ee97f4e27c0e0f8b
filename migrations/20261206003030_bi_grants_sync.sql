-- What the BI group `ipai_bi` may read, derived from what signed-in users may read, and kept that
-- way by `public.ipai_bi_sync()`:
--
--   * USAGE on every `ipai_gold_*` / `ipai_platinum_*` schema;
--   * there, SELECT on the tables and views `authenticated` may SELECT (never a private
--     materialized view behind a guarded view) and EXECUTE on the non-volatile functions it may
--     call (nothing that writes);
--   * USAGE on `public` and EXECUTE on the access helpers there (20261206003000).
--
-- Anything else `ipai_bi` holds in this database is revoked at each sync, so a stray GRANT in
-- `public`, bronze or silver does not survive. The lakehouse's RLS policies that let
-- `authenticated` read (SELECT or ALL) are extended to `ipai_bi`; they test the helpers, which
-- answer with the BI login's person.
--
-- When it runs: at the end of this migration, at every `ipai bi credentials add|rotate` and
-- `ipai bi sync`, and — when the event trigger on `public.ipai_bi_sync_after_ddl()` is installed
-- with the privileged pieces — after DDL in a gold or platinum schema while credentials exist.

CREATE OR REPLACE FUNCTION public.ipai_bi_wanted_privileges()
RETURNS TABLE (kind text, object_oid oid, privilege text)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
  WITH schemas AS (
    SELECT n.oid FROM pg_namespace n WHERE n.nspname ~ '^ipai_(gold|platinum)_'
  )
  SELECT 'schema', s.oid, 'USAGE' FROM schemas s
  UNION ALL
  SELECT 'schema', 'public'::regnamespace::oid, 'USAGE'
  UNION ALL
  SELECT 'relation', c.oid, 'SELECT'
    FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
     AND has_table_privilege('authenticated', c.oid, 'SELECT')
  UNION ALL
  SELECT 'function', f.oid, 'EXECUTE'
    FROM pg_proc f JOIN schemas s ON s.oid = f.pronamespace
   WHERE f.prokind = 'f' AND f.provolatile <> 'v' AND f.proacl IS NOT NULL
     AND has_function_privilege('authenticated', f.oid, 'EXECUTE')
  UNION ALL
  SELECT 'function', f::oid, 'EXECUTE'
    FROM unnest(ARRAY['public.ipai_app_roles()', 'public.ipai_has_role(text)',
                      'public.ipai_has_any_role(text[])',
                      'public.ipai_company_allowed(bigint)']::regprocedure[]) AS f
$$;
COMMENT ON FUNCTION public.ipai_bi_wanted_privileges() IS
  'What ipai_bi may hold: gold/platinum schemas, there only what signed-in users may read, and the access helpers in public.';

-- Adds ipai_bi to the gold/platinum policies through which authenticated reads.
CREATE OR REPLACE FUNCTION public.ipai_bi_extend_policies() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  pol record;
  changes integer := 0;
  bi oid := (SELECT oid FROM pg_roles WHERE rolname = 'ipai_bi');
BEGIN
  FOR pol IN
    SELECT p.polname, p.polrelid::regclass AS tbl,
           (SELECT string_agg(quote_ident(r.rolname), ', ')
              FROM pg_roles r WHERE r.oid = ANY (p.polroles)) AS roles
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname ~ '^ipai_(gold|platinum)_' AND p.polcmd IN ('r', '*')
       AND (SELECT oid FROM pg_roles WHERE rolname = 'authenticated') = ANY (p.polroles)
       AND NOT bi = ANY (p.polroles)
  LOOP
    BEGIN
      EXECUTE format('ALTER POLICY %I ON %s TO %s, ipai_bi', pol.polname, pol.tbl, pol.roles);
      changes := changes + 1;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'cannot extend policy % on % to BI logins: %', pol.polname, pol.tbl, SQLERRM;
    END;
  END LOOP;
  RETURN changes;
END
$$;
COMMENT ON FUNCTION public.ipai_bi_extend_policies() IS
  'Adds ipai_bi to the gold/platinum RLS policies that let authenticated read.';

-- Brings ipai_bi's grants in line with ipai_bi_wanted_privileges(); returns the GRANT/REVOKEs run.
CREATE OR REPLACE FUNCTION public.ipai_bi_sync() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  change record;
  changes integer := 0;
  outer_flag text := coalesce(current_setting('ipai.bi_sync', true), '');
BEGIN
  PERFORM set_config('ipai.bi_sync', 'on', true);  -- our own GRANTs must not re-enter
  changes := public.ipai_bi_extend_policies();
  FOR change IN
    WITH wanted AS (
      SELECT * FROM public.ipai_bi_wanted_privileges()
    ), held AS (
      SELECT * FROM public.ipai_agent_held_privileges(
        (SELECT oid FROM pg_roles WHERE rolname = 'ipai_bi'))
    )
    SELECT 'REVOKE' AS verb, h.* FROM held h
     WHERE NOT EXISTS (SELECT 1 FROM wanted w WHERE (w.kind, w.object_oid, w.privilege)
                                                  = (h.kind, h.object_oid, h.privilege))
    UNION ALL
    SELECT 'GRANT', w.* FROM wanted w
     WHERE NOT EXISTS (SELECT 1 FROM held h WHERE (w.kind, w.object_oid, w.privilege)
                                                = (h.kind, h.object_oid, h.privilege))
  LOOP
    EXECUTE public.ipai_agent_grant_sql(change.verb, change.kind, change.object_oid,
                                        change.privilege, 'ipai_bi');
    changes := changes + 1;
  END LOOP;
  PERFORM set_config('ipai.bi_sync', outer_flag, true);
  RETURN changes;
END
$$;
COMMENT ON FUNCTION public.ipai_bi_sync() IS
  'Re-derives the grants of ipai_bi and extends read policies to it; returns the changes made.';

-- For the event trigger of the privileged pieces (ON ddl_command_end): DDL in a gold or platinum
-- schema, or a GRANT/REVOKE, re-derives ipai_bi's grants while BI credentials exist. A failure
-- never blocks the DDL: it warns, and `ipai bi sync` repairs.
CREATE OR REPLACE FUNCTION public.ipai_bi_sync_after_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF coalesce(current_setting('ipai.bi_sync', true), '') = 'on'
     OR to_regclass('public.ipai_bi_credential') IS NULL
     OR NOT EXISTS (SELECT 1 FROM public.ipai_bi_credential WHERE revoked_at IS NULL) THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                  WHERE c.schema_name ~ '^ipai_(gold|platinum)_'
                     OR (c.object_type = 'schema'
                         AND c.object_identity ~ '^ipai_(gold|platinum)_')
                     OR c.command_tag IN ('GRANT', 'REVOKE')) THEN
    RETURN;
  END IF;
  BEGIN
    PERFORM public.ipai_bi_sync();
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'BI grants were not updated after this DDL (%); run `ipai bi sync`', SQLERRM;
  END;
END
$$;
COMMENT ON FUNCTION public.ipai_bi_sync_after_ddl() IS
  'Event trigger: re-derives the grants of ipai_bi after DDL in a gold or platinum schema.';

REVOKE ALL ON FUNCTION public.ipai_bi_wanted_privileges(), public.ipai_bi_extend_policies(),
  public.ipai_bi_sync() FROM PUBLIC;

SELECT public.ipai_bi_sync();
