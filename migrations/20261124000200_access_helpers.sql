-- Helpers every RLS policy uses. Application roles (admin, finance, data_engineer, analyst,
-- ai_engineer, auditor, devops, …) travel in the verified JWT as app_metadata.roles, exactly where
-- Supabase Auth keeps app_metadata; Postgres roles stay anon / authenticated / service_role.

CREATE OR REPLACE FUNCTION public.ipai_app_roles() RETURNS text[]
LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    ARRAY(SELECT jsonb_array_elements_text(auth.jwt() -> 'app_metadata' -> 'roles')),
    ARRAY[]::text[]
  )
$$;
COMMENT ON FUNCTION public.ipai_app_roles() IS 'Application roles of the current request (JWT app_metadata.roles).';

CREATE OR REPLACE FUNCTION public.ipai_has_role(wanted text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT wanted = ANY (public.ipai_app_roles()) OR 'admin' = ANY (public.ipai_app_roles())
$$;
COMMENT ON FUNCTION public.ipai_has_role(text) IS 'True when the request carries the role, or admin.';

CREATE OR REPLACE FUNCTION public.ipai_has_any_role(wanted text[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT wanted && public.ipai_app_roles() OR 'admin' = ANY (public.ipai_app_roles())
$$;
COMMENT ON FUNCTION public.ipai_has_any_role(text[]) IS 'True when the request carries one of the roles, or admin.';

CREATE OR REPLACE FUNCTION public.ipai_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION public.ipai_touch_updated_at() IS 'Trigger: keeps updated_at current on UPDATE.';

REVOKE ALL ON FUNCTION public.ipai_app_roles(), public.ipai_has_role(text),
  public.ipai_has_any_role(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_app_roles(), public.ipai_has_role(text),
  public.ipai_has_any_role(text[]) TO anon, authenticated, service_role;
