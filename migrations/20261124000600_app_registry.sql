-- Registered apps (PRD R3.4). A signed-in user sees an app only when holding one of its
-- required roles (or when it requires none); admins manage the registry.

CREATE TABLE IF NOT EXISTS public.ipai_app_registry (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    github_repo TEXT,
    deployment_target TEXT NOT NULL DEFAULT 'self-hosted',
    deployment_url TEXT,
    required_roles TEXT[] NOT NULL DEFAULT '{}',
    entry_point TEXT,
    config JSONB NOT NULL DEFAULT '{}',
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT app_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]*$'),
    CONSTRAINT app_deployment_target CHECK (deployment_target IN ('self-hosted', 'vercel', 'do'))
);
COMMENT ON TABLE public.ipai_app_registry IS
  'IPAI Apps: slug, entry point, deployment target and the roles a user needs to open each app.';
COMMENT ON COLUMN public.ipai_app_registry.required_roles IS 'A user needs one of these roles (empty: any signed-in user).';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_app_registry;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_app_registry
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_app_registry ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_app_registry FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_app_registry TO authenticated;
GRANT ALL ON public.ipai_app_registry TO service_role;

CREATE POLICY app_registry_read ON public.ipai_app_registry FOR SELECT TO authenticated
  USING (is_active AND (cardinality(required_roles) = 0 OR public.ipai_has_any_role(required_roles))
         OR public.ipai_has_role('admin'));
CREATE POLICY app_registry_admin ON public.ipai_app_registry FOR ALL TO authenticated
  USING (public.ipai_has_role('admin')) WITH CHECK (public.ipai_has_role('admin'));
CREATE POLICY app_registry_service ON public.ipai_app_registry FOR ALL TO service_role
  USING (true) WITH CHECK (true);
