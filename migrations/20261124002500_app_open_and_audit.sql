-- Opening an app is decided by the database: public.ipai_open_app(slug) succeeds only when the
-- caller's RLS lets it see the app's active registry row (it holds one of the app's roles, the app
-- needs none, or it is an admin). Every change to the registry is written to the audit log by a
-- trigger, whoever makes it (the CLI as the service role, an admin in the workspace, plain SQL).

CREATE OR REPLACE FUNCTION public.ipai_open_app(p_slug text) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = pg_catalog, public AS $$
DECLARE
  app_id uuid;
  app_active boolean;
BEGIN
  SELECT id, is_active INTO app_id, app_active FROM public.ipai_app_registry WHERE slug = p_slug;
  IF app_id IS NULL AND public.ipai_has_role('admin') THEN
    -- An admin sees every row, so for an admin the app is simply not registered.
    RAISE EXCEPTION 'app % is not registered', p_slug
      USING ERRCODE = 'no_data_found', HINT = 'Register it with `ipai apps register SLUG`.';
  END IF;
  IF app_id IS NULL THEN
    RAISE EXCEPTION 'app % is not open to you', p_slug
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'It needs a role you do not hold; ask an admin (`ipai users grant`).';
  END IF;
  IF NOT app_active THEN
    RAISE EXCEPTION 'app % is deactivated', p_slug
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'An admin turns it back on in the workspace (Admin, App registry).';
  END IF;
  RETURN app_id;
END
$$;
COMMENT ON FUNCTION public.ipai_open_app(text) IS
  'The registry id of an app the caller may open; raises insufficient_privilege (42501) when its '
  'row is not visible to the caller under RLS, or the app is deactivated.';
REVOKE ALL ON FUNCTION public.ipai_open_app(text) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.ipai_open_app(text) TO authenticated, service_role;

CREATE OR REPLACE FUNCTION public.ipai_app_registry_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public AS $$
DECLARE
  happened text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    happened := 'app_registered';
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM public.ipai_audit('app_admin', 'app', OLD.id, 'app_removed',
                              jsonb_build_object('slug', OLD.slug));
    RETURN OLD;
  ELSIF NEW.is_active IS DISTINCT FROM OLD.is_active THEN
    happened := CASE WHEN NEW.is_active THEN 'app_activated' ELSE 'app_deactivated' END;
  ELSE
    happened := 'app_updated';
  END IF;
  PERFORM public.ipai_audit('app_admin', 'app', NEW.id, happened,
                            jsonb_build_object('slug', NEW.slug, 'name', NEW.name,
                                               'required_roles', NEW.required_roles,
                                               'is_active', NEW.is_active));
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION public.ipai_app_registry_audit() IS
  'Trigger: writes app_registered / app_updated / app_activated / app_deactivated / app_removed '
  'to the audit log, stamped with the identity that made the change.';

DROP TRIGGER IF EXISTS audit_changes ON public.ipai_app_registry;
CREATE TRIGGER audit_changes AFTER INSERT OR UPDATE OR DELETE ON public.ipai_app_registry
  FOR EACH ROW EXECUTE FUNCTION public.ipai_app_registry_audit();

-- Who the actors of the audit log are, for the people allowed to read all of it (auditors and
-- admins): auth.users is not readable by signed-in users (as on Supabase), so this function
-- answers for them and returns nothing to anyone else.
CREATE OR REPLACE FUNCTION public.ipai_audit_actors() RETURNS TABLE (user_id uuid, email text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT u.id, u.email::text FROM auth.users u WHERE public.ipai_has_role('auditor')
$$;
COMMENT ON FUNCTION public.ipai_audit_actors() IS
  'User ids and e-mails of every account, for auditors and admins only (empty for anyone else); '
  'the audit log browser shows actors by e-mail with it.';
REVOKE ALL ON FUNCTION public.ipai_audit_actors() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.ipai_audit_actors() TO authenticated, service_role;
