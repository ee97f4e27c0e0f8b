-- Feature flags of IPAI Apps, per app and per application role. An app declares each flag and its
-- default in its manifest; a row here overrides the default for one role (role NULL: everyone).
-- Resolution (ipai_core.apps.flags): a row for any of the user's roles wins (on when any of those
-- rows is on), else the row for everyone, else the manifest's default.

CREATE TABLE IF NOT EXISTS public.ipai_feature_flag (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    app_slug TEXT NOT NULL REFERENCES public.ipai_app_registry (slug)
        ON UPDATE CASCADE ON DELETE CASCADE,
    flag TEXT NOT NULL,
    role TEXT,
    enabled BOOLEAN NOT NULL,
    description TEXT,
    updated_by UUID,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT feature_flag_name CHECK (flag ~ '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT feature_flag_role CHECK (role IS NULL OR role ~ '^[a-z][a-z0-9_]{0,62}$')
);
CREATE UNIQUE INDEX IF NOT EXISTS ipai_feature_flag_scope
  ON public.ipai_feature_flag (app_slug, flag, coalesce(role, ''));

COMMENT ON TABLE public.ipai_feature_flag IS
  'Feature flags of IPAI Apps per app and role; a role''s row overrides the everyone row, which '
  'overrides the default in the app''s manifest.';
COMMENT ON COLUMN public.ipai_feature_flag.app_slug IS 'The app (public.ipai_app_registry.slug).';
COMMENT ON COLUMN public.ipai_feature_flag.flag IS 'Flag name, as declared in the app''s manifest.';
COMMENT ON COLUMN public.ipai_feature_flag.role IS
  'Application role the row applies to; NULL: everyone without a row of their own.';
COMMENT ON COLUMN public.ipai_feature_flag.enabled IS 'Whether the flag is on for that role.';
COMMENT ON COLUMN public.ipai_feature_flag.updated_by IS 'User who last set the row (auth.uid()).';
COMMENT ON COLUMN public.ipai_feature_flag.updated_at IS 'When the row was last set.';

-- updated_by and updated_at come from the verified identity and the clock, never the caller.
CREATE OR REPLACE FUNCTION public.ipai_feature_flag_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_by := auth.uid();
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION public.ipai_feature_flag_stamp() IS
  'Trigger: stamps a feature flag row with the user who set it and the time.';
DROP TRIGGER IF EXISTS stamp ON public.ipai_feature_flag;
CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON public.ipai_feature_flag
  FOR EACH ROW EXECUTE FUNCTION public.ipai_feature_flag_stamp();

CREATE OR REPLACE FUNCTION public.ipai_feature_flag_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM public.ipai_audit('app_admin', 'feature_flag', OLD.id, 'flag_cleared',
                              jsonb_build_object('app', OLD.app_slug, 'flag', OLD.flag,
                                                 'role', OLD.role));
    RETURN OLD;
  END IF;
  PERFORM public.ipai_audit('app_admin', 'feature_flag', NEW.id, 'flag_set',
                            jsonb_build_object('app', NEW.app_slug, 'flag', NEW.flag,
                                               'role', NEW.role, 'enabled', NEW.enabled));
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION public.ipai_feature_flag_audit() IS
  'Trigger: writes flag_set / flag_cleared to the audit log for every change of a feature flag.';
DROP TRIGGER IF EXISTS audit_changes ON public.ipai_feature_flag;
CREATE TRIGGER audit_changes AFTER INSERT OR UPDATE OR DELETE ON public.ipai_feature_flag
  FOR EACH ROW EXECUTE FUNCTION public.ipai_feature_flag_audit();

ALTER TABLE public.ipai_feature_flag ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_feature_flag FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_feature_flag TO authenticated;
GRANT ALL ON public.ipai_feature_flag TO service_role;

-- The registry sub-select runs under the caller's own registry policies: flags of an app are
-- readable exactly by the users who can see that app.
CREATE POLICY feature_flag_read ON public.ipai_feature_flag FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM public.ipai_app_registry r WHERE r.slug = app_slug));
CREATE POLICY feature_flag_admin ON public.ipai_feature_flag FOR ALL TO authenticated
  USING (public.ipai_has_role('admin')) WITH CHECK (public.ipai_has_role('admin'));
CREATE POLICY feature_flag_service ON public.ipai_feature_flag FOR ALL TO service_role
  USING (true) WITH CHECK (true);
