-- The registry of BI credentials: which login role belongs to which person. `ipai bi credentials
-- add|rotate|revoke` (ipai_core/bi) write it with the owner's connection; nobody else may. The
-- access helpers read it (SECURITY DEFINER) to know whose rows a BI session may see.
--
-- Revoking is data too: setting `revoked_at` (or deleting the row, as deleting the person does)
-- disables the login role at once — NOLOGIN, out of `ipai_bi`, its sessions terminated — so the
-- next query of a revoked BI tool fails, whoever wrote the change.

CREATE TABLE IF NOT EXISTS public.ipai_bi_credential (
    login_role name PRIMARY KEY,
    id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE,
    user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    auth_method text NOT NULL DEFAULT 'password',
    statement_timeout_ms integer NOT NULL,
    connection_limit integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT session_user,
    rotated_at timestamptz,
    revoked_at timestamptz,
    CONSTRAINT bi_credential_name_shape CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    CONSTRAINT bi_credential_role_is_name CHECK (login_role = 'ipai_bi_' || name),
    CONSTRAINT bi_credential_auth_method CHECK (auth_method IN ('password', 'certificate')),
    CONSTRAINT bi_credential_timeout_positive CHECK (statement_timeout_ms > 0),
    CONSTRAINT bi_credential_connection_limit_positive CHECK (connection_limit > 0)
);
CREATE INDEX IF NOT EXISTS idx_bi_credential_user ON public.ipai_bi_credential (user_id);

COMMENT ON TABLE public.ipai_bi_credential IS
  'BI credentials: one Postgres login (ipai_bi_<name>) per person, read-only on gold and platinum under that person''s roles. Passwords are never stored here.';
COMMENT ON COLUMN public.ipai_bi_credential.login_role IS 'The Postgres login role: ipai_bi_<name>.';
COMMENT ON COLUMN public.ipai_bi_credential.name IS 'Credential name given to `ipai bi credentials add`.';
COMMENT ON COLUMN public.ipai_bi_credential.user_id IS
  'The person whose current application roles and company scope every query of the login runs under.';
COMMENT ON COLUMN public.ipai_bi_credential.auth_method IS
  'password (SCRAM, shown once at add/rotate) or certificate (no password; pg_hba `cert`, CN = login_role).';
COMMENT ON COLUMN public.ipai_bi_credential.statement_timeout_ms IS 'statement_timeout set on the login role.';
COMMENT ON COLUMN public.ipai_bi_credential.connection_limit IS 'CONNECTION LIMIT of the login role.';
COMMENT ON COLUMN public.ipai_bi_credential.created_by IS 'Database role that created the credential.';
COMMENT ON COLUMN public.ipai_bi_credential.rotated_at IS 'Last password rotation.';
COMMENT ON COLUMN public.ipai_bi_credential.revoked_at IS
  'When the credential was revoked (the login is then NOLOGIN and out of ipai_bi); NULL: active.';

ALTER TABLE public.ipai_bi_credential ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_bi_credential FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_bi_credential TO authenticated, service_role;
DROP POLICY IF EXISTS bi_credential_read_admin_auditor ON public.ipai_bi_credential;
CREATE POLICY bi_credential_read_admin_auditor ON public.ipai_bi_credential
  FOR SELECT TO authenticated USING (public.ipai_has_any_role(ARRAY['auditor']));
DROP POLICY IF EXISTS bi_credential_read_own ON public.ipai_bi_credential;
CREATE POLICY bi_credential_read_own ON public.ipai_bi_credential
  FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS bi_credential_service_read ON public.ipai_bi_credential;
CREATE POLICY bi_credential_service_read ON public.ipai_bi_credential
  FOR SELECT TO service_role USING (true);

-- Takes a login role's ability to connect and every privilege it had through ipai_bi. Both are
-- transactional: they hold once the surrounding transaction commits.
CREATE OR REPLACE FUNCTION public.ipai_bi_disable_login(p_login_role name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_login_role) THEN
    RETURN;
  END IF;
  EXECUTE format('ALTER ROLE %I NOLOGIN', p_login_role);
  IF EXISTS (SELECT 1 FROM pg_auth_members m
              WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = p_login_role)
                AND m.roleid = (SELECT oid FROM pg_roles WHERE rolname = 'ipai_bi')) THEN
    EXECUTE format('REVOKE ipai_bi FROM %I', p_login_role);
  END IF;
END
$$;
COMMENT ON FUNCTION public.ipai_bi_disable_login(name) IS
  'Makes a BI login NOLOGIN and takes it out of ipai_bi (its open sessions lose every privilege).';

-- Ends a login role's open sessions (not transactional: it happens at once). Needs privileges of
-- the role or pg_signal_backend; without them it warns and returns 0 — the sessions have already
-- lost their privileges with ipai_bi_disable_login, so their next query fails either way.
CREATE OR REPLACE FUNCTION public.ipai_bi_terminate_sessions(p_login_role name) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  ended integer := 0;
BEGIN
  SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid)) INTO ended
    FROM pg_stat_activity a
   WHERE a.usename = p_login_role AND a.pid <> pg_backend_pid();
  RETURN ended;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'the open sessions of % were not terminated (%); they have no privileges left',
    p_login_role, SQLERRM;
  RETURN 0;
END
$$;
COMMENT ON FUNCTION public.ipai_bi_terminate_sessions(name) IS
  'Terminates the open sessions of a BI login; returns how many.';

CREATE OR REPLACE FUNCTION public.ipai_bi_credential_after_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF (TG_OP = 'DELETE' AND OLD.revoked_at IS NULL)
     OR (TG_OP = 'UPDATE' AND OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) THEN
    PERFORM public.ipai_bi_disable_login(OLD.login_role);
    PERFORM public.ipai_bi_terminate_sessions(OLD.login_role);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION public.ipai_bi_credential_after_change() IS
  'Trigger: a BI credential revoked or deleted (with its person) disables its login role.';
DROP TRIGGER IF EXISTS ipai_bi_credential_disable ON public.ipai_bi_credential;
CREATE TRIGGER ipai_bi_credential_disable AFTER UPDATE OF revoked_at OR DELETE
  ON public.ipai_bi_credential FOR EACH ROW EXECUTE FUNCTION public.ipai_bi_credential_after_change();

-- A revoked credential stays revoked: its name and login role are not handed out again.
CREATE OR REPLACE FUNCTION public.ipai_bi_credential_stays_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
    RAISE EXCEPTION 'BI credential % is revoked and cannot be reinstated', OLD.name
      USING ERRCODE = 'check_violation',
            HINT = 'Create a new credential with another name: ipai bi credentials add NAME --for EMAIL';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION public.ipai_bi_credential_stays_revoked() IS
  'Trigger: refuses to clear or move revoked_at of a revoked BI credential.';
DROP TRIGGER IF EXISTS ipai_bi_credential_stays_revoked ON public.ipai_bi_credential;
CREATE TRIGGER ipai_bi_credential_stays_revoked BEFORE UPDATE OF revoked_at
  ON public.ipai_bi_credential FOR EACH ROW EXECUTE FUNCTION public.ipai_bi_credential_stays_revoked();

REVOKE ALL ON FUNCTION public.ipai_bi_disable_login(name), public.ipai_bi_terminate_sessions(name)
  FROM PUBLIC;
