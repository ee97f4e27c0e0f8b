-- The roles request sessions sign in as (ipai_core/db/logins.py): PostgREST's `authenticator`
-- pattern, split three ways so that no session can switch to a role it was not opened for.
-- LOGIN NOINHERIT: a login holds no privilege of its own until `SET LOCAL ROLE`, and Postgres
-- checks every `SET ROLE` against the login role, so a person's session can become `anon` or
-- `authenticated` and nothing else — never `service_role`, an agent's role or the owner.
-- Passwords are set outside migrations, from the JWT secret, by the owner (`ipai migrate`).

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipai_authenticator') THEN
    CREATE ROLE ipai_authenticator LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipai_agents_authenticator') THEN
    CREATE ROLE ipai_agents_authenticator LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipai_service_authenticator') THEN
    CREATE ROLE ipai_service_authenticator LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
END
$$;

GRANT anon, authenticated TO ipai_authenticator;
GRANT service_role TO ipai_service_authenticator;

-- Agents registered before this migration: their roles move to the agents' login.
DO $$
DECLARE
  agent record;
BEGIN
  FOR agent IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'ipai\_agent\_%' LOOP
    EXECUTE format('GRANT %I TO ipai_agents_authenticator', agent.rolname);
  END LOOP;
END
$$;

-- From now on an agent's role is granted to the agents' login (it used to go to whichever role
-- ran the sync, which was the login role of every session).
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
  IF NOT pg_has_role('ipai_agents_authenticator', role_name, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO ipai_agents_authenticator', role_name);
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
  'Creates the agent''s role if needed, grants it to the agents'' login role, and makes its grants match the registry row.';

-- The owner (no longer a superuser) needs the privileges of a role to `DROP OWNED BY` it; as the
-- role's creator it may grant itself that membership first.
CREATE OR REPLACE FUNCTION public.ipai_agent_drop_role(p_code_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  role_name text := public.ipai_agent_role_name(p_code_name);
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
    RETURN;
  END IF;
  PERFORM set_config('ipai.agent_sync', 'on', true);
  IF NOT pg_has_role(current_user, role_name, 'USAGE') THEN
    EXECUTE format('GRANT %I TO %I', role_name, current_user);
  END IF;
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
