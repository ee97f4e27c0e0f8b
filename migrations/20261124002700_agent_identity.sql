-- ipai:replaces-checksum 424bbe5e351ee0c49095726f5f0870c75a385d6a2bdddf62d6cdd44418947856
-- Agents act as themselves in the database (PRD R4.2/R4.3, issue 6). Each registered agent gets a
-- Postgres role `ipai_agent_<code_name>` (NOLOGIN) whose privileges are derived from its registry
-- row, so an agent talked into reading outside its scope is refused by Postgres itself:
--
--   * USAGE on its allowed lakehouse schemas only (never `public`, `auth` data or another schema);
--   * SELECT on the objects there that signed-in users may read (so private materialized views
--     behind guarded gold views stay private), INSERT/UPDATE only with the `write` operation and
--     only where signed-in users have them, EXECUTE on the functions there users may call;
--   * through the group role `ipai_agents`: the access helpers and auth.* that guarded views and
--     policies call, the semantic models over views it can read, and the bookkeeping functions
--     below. Nothing else.
--
-- Rows are still filtered as the person behind the call: a session for an agent sets the JWT
-- claims (its own application roles, intersected with those of the user it acts for), and the
-- lakehouse's RLS policies written `TO authenticated` are extended to `ipai_agents`.
--
-- When privileges are reconciled: on every change of `ipai_agent` (row trigger), after any DDL in
-- a lakehouse schema (event trigger — views created later are covered without anyone
-- remembering a command), and on demand with `ipai agents sync` (SELECT public.ipai_agent_sync()).

-- Registry columns the PRD's DDL lacks: application roles (what rows the agent may ever see), a
-- per-call cost budget beside the daily one, and a latency budget that always exists.
ALTER TABLE public.ipai_agent
  ADD COLUMN IF NOT EXISTS app_roles TEXT[] NOT NULL DEFAULT '{}',
  ADD COLUMN IF NOT EXISTS cost_budget_usd_per_call DECIMAL(10, 4);
UPDATE public.ipai_agent SET latency_budget_ms = 30000 WHERE latency_budget_ms IS NULL;
ALTER TABLE public.ipai_agent
  ALTER COLUMN latency_budget_ms SET DEFAULT 30000,
  ALTER COLUMN latency_budget_ms SET NOT NULL,
  ADD CONSTRAINT agent_code_name_fits_role CHECK (length(code_name) <= 52),
  ADD CONSTRAINT agent_per_call_budget_positive CHECK (coalesce(cost_budget_usd_per_call, 0) >= 0);

COMMENT ON COLUMN public.ipai_agent.allowed_tools IS 'MCP tools the agent may call (checked per call).';
COMMENT ON COLUMN public.ipai_agent.allowed_schemas IS
  'Lakehouse schemas its database role may read (USAGE + SELECT, enforced by Postgres).';
COMMENT ON COLUMN public.ipai_agent.allowed_operations IS
  'read, write (INSERT/UPDATE where users may), transform, schedule (trigger connector runs).';
COMMENT ON COLUMN public.ipai_agent.app_roles IS
  'Application roles in the agent''s JWT; on a user''s behalf, only those the user also holds.';
COMMENT ON COLUMN public.ipai_agent.cost_budget_usd IS
  'Cost budget per UTC day in USD (summed from ipai_agent_run); NULL: no daily limit.';
COMMENT ON COLUMN public.ipai_agent.cost_budget_usd_per_call IS
  'Cost budget of one call in USD; NULL: no per-call limit.';
COMMENT ON COLUMN public.ipai_agent.latency_budget_ms IS
  'statement_timeout and wall-clock deadline of one call, in milliseconds.';
COMMENT ON COLUMN public.ipai_agent_run.status IS
  'running, success, failed (error or cut off at a budget), refused (by governance or the database).';

-- The group every agent role belongs to: what all agents need, and nothing that reads data.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipai_agents') THEN
    CREATE ROLE ipai_agents NOLOGIN NOINHERIT;
  END IF;
END
$$;
COMMENT ON ROLE ipai_agents IS
  'Group of the ipai_agent_<code> roles: access helpers, auth.*, agent bookkeeping; no data.';
GRANT USAGE ON SCHEMA auth TO ipai_agents;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.email(), auth.jwt() TO ipai_agents;
GRANT EXECUTE ON FUNCTION public.ipai_app_roles(), public.ipai_has_role(text),
  public.ipai_has_any_role(text[]), public.ipai_company_allowed(bigint) TO ipai_agents;

-- Semantic model definitions: an agent reads those whose source view its role may read (looked
-- up in the catalog by name: resolving the name would fail in a schema it may not use).
GRANT SELECT ON public.ipai_semantic_model TO ipai_agents;
DROP POLICY IF EXISTS semantic_model_agent_read ON public.ipai_semantic_model;
CREATE POLICY semantic_model_agent_read ON public.ipai_semantic_model FOR SELECT TO ipai_agents
  USING (is_active AND EXISTS (
    SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = split_part(source_view, '.', 1)
       AND c.relname = split_part(source_view, '.', 2)
       AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')));

CREATE OR REPLACE FUNCTION public.ipai_agent_role_name(p_code_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'ipai_agent_' || p_code_name $$;
COMMENT ON FUNCTION public.ipai_agent_role_name(text) IS 'The database role of an agent: ipai_agent_<code_name>.';

-- The registry row of the agent whose role this session runs as (SET LOCAL ROLE sets the `role`
-- setting, which a SECURITY DEFINER function still reads as the caller's).
CREATE OR REPLACE FUNCTION public.ipai_agent_current_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT a.id FROM public.ipai_agent a
   WHERE public.ipai_agent_role_name(a.code_name) = current_setting('role')
$$;
COMMENT ON FUNCTION public.ipai_agent_current_id() IS
  'Id of the agent whose database role runs this session, or NULL.';

-- Privileges one agent role should hold in this database, as (kind, object, privilege) rows.
CREATE OR REPLACE FUNCTION public.ipai_agent_wanted_privileges(p_schemas text[], p_operations text[])
RETURNS TABLE (kind text, object_oid oid, privilege text)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
  WITH schemas AS (
    SELECT n.oid, n.nspname FROM pg_namespace n
     WHERE n.nspname = ANY (p_schemas) AND n.nspname ~ '^ipai_(bronze|silver|gold|platinum)_'
  )
  SELECT 'schema', s.oid, 'USAGE' FROM schemas s
  UNION ALL
  SELECT 'relation', c.oid, p.privilege
    FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace
   CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE']) AS p(privilege)
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
     AND (p.privilege = 'SELECT' OR 'write' = ANY (p_operations))
     AND has_table_privilege('authenticated', c.oid, p.privilege)
  UNION ALL
  SELECT 'relation', c.oid, 'USAGE'
    FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace
   WHERE 'write' = ANY (p_operations)
     AND CASE WHEN c.relkind = 'S'  -- CASE: the planner may test rows of any kind first
              THEN has_sequence_privilege('authenticated', c.oid, 'USAGE') ELSE false END
  UNION ALL
  SELECT 'function', f.oid, 'EXECUTE'
    FROM pg_proc f JOIN schemas s ON s.oid = f.pronamespace
   WHERE f.prokind IN ('f', 'p') AND f.proacl IS NOT NULL
     AND has_function_privilege('authenticated', f.oid, 'EXECUTE')
$$;
COMMENT ON FUNCTION public.ipai_agent_wanted_privileges(text[], text[]) IS
  'What an agent role may hold: its lakehouse schemas, and there only what signed-in users may do.';

-- Privileges one role holds now, in the same shape.
CREATE OR REPLACE FUNCTION public.ipai_agent_held_privileges(p_role oid)
RETURNS TABLE (kind text, object_oid oid, privilege text)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
  SELECT 'schema', n.oid, x.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) x
   WHERE x.grantee = p_role
  UNION ALL
  SELECT 'relation', c.oid, x.privilege_type FROM pg_class c, aclexplode(c.relacl) x
   WHERE x.grantee = p_role
  UNION ALL
  SELECT 'function', f.oid, x.privilege_type FROM pg_proc f, aclexplode(f.proacl) x
   WHERE x.grantee = p_role
$$;
COMMENT ON FUNCTION public.ipai_agent_held_privileges(oid) IS
  'Privileges granted to a role in this database (schemas, relations, functions).';

CREATE OR REPLACE FUNCTION public.ipai_agent_grant_sql(p_verb text, p_kind text, p_object oid,
                                                       p_privilege text, p_role text)
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
  SELECT format('%s %s ON %s %s %I', p_verb, p_privilege,
                CASE WHEN p_kind = 'schema' THEN 'SCHEMA ' || p_object::regnamespace::text
                     WHEN p_kind = 'function' THEN 'FUNCTION ' || p_object::regprocedure::text
                     WHEN p_privilege = 'USAGE' THEN 'SEQUENCE ' || p_object::regclass::text
                     ELSE 'TABLE ' || p_object::regclass::text END,
                CASE WHEN p_verb = 'GRANT' THEN 'TO' ELSE 'FROM' END, p_role)
$$;
COMMENT ON FUNCTION public.ipai_agent_grant_sql(text, text, oid, text, text) IS
  'The GRANT/REVOKE statement for one privilege of an agent role.';

-- Bring one agent role in line with its registry row; returns the number of GRANT/REVOKEs run.
CREATE OR REPLACE FUNCTION public.ipai_agent_reconcile(p_agent public.ipai_agent) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  role_name text := public.ipai_agent_role_name(p_agent.code_name);
  role_oid oid;
  change record;
  changes integer := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
    EXECUTE format('CREATE ROLE %I NOLOGIN INHERIT', role_name);
  END IF;
  SELECT oid INTO role_oid FROM pg_roles WHERE rolname = role_name;
  IF NOT pg_has_role(role_name, 'ipai_agents', 'MEMBER') THEN
    EXECUTE format('GRANT ipai_agents TO %I', role_name);
  END IF;
  -- The login role must be able to SET ROLE to it (a superuser always can).
  IF NOT pg_has_role(session_user, role_name, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', role_name, session_user);
  END IF;
  FOR change IN
    WITH wanted AS (
      SELECT * FROM public.ipai_agent_wanted_privileges(
        CASE WHEN p_agent.is_active THEN p_agent.allowed_schemas ELSE '{}'::text[] END,
        p_agent.allowed_operations)
    ), held AS (
      SELECT * FROM public.ipai_agent_held_privileges(role_oid)
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
                                        change.privilege, role_name);
    changes := changes + 1;
  END LOOP;
  RETURN changes;
END
$$;
COMMENT ON FUNCTION public.ipai_agent_reconcile(public.ipai_agent) IS
  'Creates the agent''s role if needed and makes its grants match the registry row.';

-- Policies written for signed-in users in the lakehouse schemas also filter agents' rows (an
-- agent only reaches tables its own grants allow, and the policy still tests the JWT claims).
CREATE OR REPLACE FUNCTION public.ipai_agent_extend_policies() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  pol record;
  changes integer := 0;
  agents oid := (SELECT oid FROM pg_roles WHERE rolname = 'ipai_agents');
BEGIN
  FOR pol IN
    SELECT p.polname, p.polrelid::regclass AS tbl,
           (SELECT string_agg(quote_ident(r.rolname), ', ')
              FROM pg_roles r WHERE r.oid = ANY (p.polroles)) AS roles
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname ~ '^ipai_(bronze|silver|gold|platinum)_'
       AND (SELECT oid FROM pg_roles WHERE rolname = 'authenticated') = ANY (p.polroles)
       AND NOT agents = ANY (p.polroles)
  LOOP
    BEGIN
      EXECUTE format('ALTER POLICY %I ON %s TO %s, ipai_agents', pol.polname, pol.tbl, pol.roles);
      changes := changes + 1;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'cannot extend policy % on % to agents: %', pol.polname, pol.tbl, SQLERRM;
    END;
  END LOOP;
  RETURN changes;
END
$$;
COMMENT ON FUNCTION public.ipai_agent_extend_policies() IS
  'Adds ipai_agents to the lakehouse RLS policies that apply to authenticated.';

-- Reconcile one agent (by code name) or all of them; what `ipai agents sync` runs.
CREATE OR REPLACE FUNCTION public.ipai_agent_sync(p_code_name text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  agent public.ipai_agent;
  changes integer := 0;
  outer_flag text := coalesce(current_setting('ipai.agent_sync', true), '');
BEGIN
  PERFORM set_config('ipai.agent_sync', 'on', true);  -- our own GRANTs must not re-enter
  changes := public.ipai_agent_extend_policies();
  FOR agent IN
    SELECT * FROM public.ipai_agent WHERE p_code_name IS NULL OR code_name = p_code_name
  LOOP
    changes := changes + public.ipai_agent_reconcile(agent);
  END LOOP;
  PERFORM set_config('ipai.agent_sync', outer_flag, true);
  RETURN changes;
END
$$;
COMMENT ON FUNCTION public.ipai_agent_sync(text) IS
  'Reconciles agent roles with the registry (one agent, or all); returns the grants changed.';

-- An agent removed from the registry loses its privileges here; its role is dropped unless it
-- still holds privileges in another database of the cluster (roles are cluster-wide).
CREATE OR REPLACE FUNCTION public.ipai_agent_drop_role(p_code_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  role_name text := public.ipai_agent_role_name(p_code_name);
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
    RETURN;
  END IF;
  PERFORM set_config('ipai.agent_sync', 'on', true);
  EXECUTE format('DROP OWNED BY %I', role_name);
  BEGIN
    EXECUTE format('DROP ROLE %I', role_name);
  EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'role % is kept: it still holds privileges in another database', role_name;
  END;
  PERFORM set_config('ipai.agent_sync', '', true);
END
$$;
COMMENT ON FUNCTION public.ipai_agent_drop_role(text) IS
  'Revokes a removed agent''s privileges and drops its role when no other database uses it.';

CREATE OR REPLACE FUNCTION public.ipai_agent_after_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') AND (TG_OP = 'DELETE' OR OLD.code_name <> NEW.code_name) THEN
    PERFORM public.ipai_agent_drop_role(OLD.code_name);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM public.ipai_agent_sync(NEW.code_name);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION public.ipai_agent_after_change() IS
  'Trigger: keeps an agent''s database role in line with its registry row.';
DROP TRIGGER IF EXISTS ipai_agent_role_sync ON public.ipai_agent;
CREATE TRIGGER ipai_agent_role_sync AFTER INSERT OR UPDATE OR DELETE ON public.ipai_agent
  FOR EACH ROW EXECUTE FUNCTION public.ipai_agent_after_change();

-- A user editing the registry (ai_engineer) cannot hand an agent roles the user lacks.
CREATE OR REPLACE FUNCTION public.ipai_agent_check_app_roles() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  missing text[];
BEGIN
  IF current_setting('role') <> 'authenticated' THEN
    RETURN NEW;
  END IF;
  missing := ARRAY(SELECT r FROM unnest(NEW.app_roles) r WHERE NOT public.ipai_has_role(r));
  IF cardinality(missing) > 0 THEN
    RAISE EXCEPTION 'you cannot give agent % application roles you do not hold: %',
      NEW.code_name, array_to_string(missing, ', ')
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Ask an admin to register the agent, or to grant you those roles.';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION public.ipai_agent_check_app_roles() IS
  'Trigger: a signed-in user may only give an agent application roles the user holds.';
DROP TRIGGER IF EXISTS ipai_agent_app_roles_held ON public.ipai_agent;
CREATE TRIGGER ipai_agent_app_roles_held BEFORE INSERT OR UPDATE OF app_roles ON public.ipai_agent
  FOR EACH ROW EXECUTE FUNCTION public.ipai_agent_check_app_roles();

-- DDL in a lakehouse schema (a new view, a GRANT, a policy) re-derives every agent's grants. A
-- failure here never blocks the DDL itself: it warns, and `ipai agents sync` repairs.
CREATE OR REPLACE FUNCTION public.ipai_agent_sync_after_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF coalesce(current_setting('ipai.agent_sync', true), '') = 'on'
     OR to_regclass('public.ipai_agent') IS NULL
     OR NOT EXISTS (SELECT 1 FROM public.ipai_agent) THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                  WHERE c.schema_name ~ '^ipai_(bronze|silver|gold|platinum)_'
                     OR (c.object_type = 'schema'
                         AND c.object_identity ~ '^ipai_(bronze|silver|gold|platinum)_')
                     OR c.command_tag IN ('GRANT', 'REVOKE')) THEN
    RETURN;
  END IF;
  BEGIN
    PERFORM public.ipai_agent_sync(NULL);
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'agent grants were not updated after this DDL (%); run `ipai agents sync`',
      SQLERRM;
  END;
END
$$;
COMMENT ON FUNCTION public.ipai_agent_sync_after_ddl() IS
  'Event trigger: re-derives agent grants after DDL in a lakehouse schema.';
-- Its event trigger is created by `ipai_core/migrate/privileged.sql` (a superuser's part).

-- What governance reads before a call: the calling agent's registry row and today's spend.
CREATE OR REPLACE FUNCTION public.ipai_agent_self()
RETURNS TABLE (id uuid, code_name text, is_active boolean, allowed_tools text[],
               allowed_schemas text[], allowed_operations text[], app_roles text[],
               cost_budget_usd numeric, cost_budget_usd_per_call numeric,
               latency_budget_ms integer, spent_today_usd numeric)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT a.id, a.code_name, a.is_active, a.allowed_tools, a.allowed_schemas,
         a.allowed_operations, a.app_roles, a.cost_budget_usd, a.cost_budget_usd_per_call,
         a.latency_budget_ms,
         coalesce((SELECT sum(r.cost_usd) FROM public.ipai_agent_run r
                    WHERE r.agent_id = a.id
                      AND r.started_at >= date_trunc('day', now() AT TIME ZONE 'UTC')
                                          AT TIME ZONE 'UTC'), 0)
    FROM public.ipai_agent a
   WHERE a.id = public.ipai_agent_current_id()
$$;
COMMENT ON FUNCTION public.ipai_agent_self() IS
  'The calling agent''s registry row and its spend this UTC day.';

-- One finished call: its ipai_agent_run row and its audit entry, written as the agent itself
-- (the agent and the user come from the session, never from the arguments).
CREATE OR REPLACE FUNCTION public.ipai_agent_log_run(
    p_tool text,
    p_session_id text,
    p_status text,
    p_started_at timestamptz,
    p_latency_ms integer,
    p_input jsonb,
    p_output jsonb,
    p_tokens integer,
    p_cost_usd numeric,
    p_error text,
    p_metadata jsonb DEFAULT '{}'::jsonb
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  agent_id uuid := public.ipai_agent_current_id();
  on_behalf_of uuid := nullif(auth.jwt() ->> 'ipai_on_behalf_of', '')::uuid;
  run_id uuid;
BEGIN
  IF agent_id IS NULL THEN
    RAISE EXCEPTION 'only a registered agent''s session can log an agent run'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO public.ipai_agent_run
    (agent_id, user_id, session_id, tool, started_at, ended_at, status, input_summary,
     output_summary, tokens_used, cost_usd, latency_ms, error_message, metadata)
  VALUES
    (agent_id, on_behalf_of, p_session_id, p_tool, p_started_at, clock_timestamp(), p_status,
     p_input, p_output, p_tokens, p_cost_usd, p_latency_ms, p_error,
     coalesce(p_metadata, '{}'::jsonb))
  RETURNING id INTO run_id;
  PERFORM public.ipai_audit(
    'agent_run', 'agent', agent_id, p_status,
    jsonb_build_object('run_id', run_id, 'tool', p_tool, 'agent_role', current_setting('role'),
                       'on_behalf_of', on_behalf_of, 'session_id', p_session_id,
                       'cost_usd', p_cost_usd, 'latency_ms', p_latency_ms, 'error', p_error));
  RETURN run_id;
END
$$;
COMMENT ON FUNCTION public.ipai_agent_log_run(text, text, text, timestamptz, integer, jsonb, jsonb,
  integer, numeric, text, jsonb) IS
  'Records one agent call (ipai_agent_run + audit entry), stamped with the session''s agent and user.';

REVOKE ALL ON FUNCTION public.ipai_agent_current_id(), public.ipai_agent_self(),
  public.ipai_agent_log_run(text, text, text, timestamptz, integer, jsonb, jsonb, integer, numeric,
                            text, jsonb),
  public.ipai_agent_sync(text), public.ipai_agent_reconcile(public.ipai_agent),
  public.ipai_agent_extend_policies(), public.ipai_agent_drop_role(text),
  public.ipai_agent_wanted_privileges(text[], text[]), public.ipai_agent_held_privileges(oid),
  public.ipai_agent_grant_sql(text, text, oid, text, text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_agent_current_id(), public.ipai_agent_self(),
  public.ipai_agent_log_run(text, text, text, timestamptz, integer, jsonb, jsonb, integer, numeric,
                            text, jsonb)
  TO ipai_agents;
GRANT EXECUTE ON FUNCTION public.ipai_agent_sync(text) TO service_role;

ALTER TABLE public.ipai_agent_run
  ADD CONSTRAINT agent_run_cost_not_negative CHECK (coalesce(cost_usd, 0) >= 0);

-- The policies that exist now; later ones at the next sync (an agent added or changed, or DDL
-- while agents exist).
SELECT public.ipai_agent_extend_policies();
