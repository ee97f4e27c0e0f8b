-- The audit log (PRD R5.4): append-only. Nobody may UPDATE, DELETE or TRUNCATE it — not the app,
-- not the service role, not the owner: grants are withheld and a trigger refuses the rest.
-- Entries are written through public.ipai_audit(), which stamps the caller's identity itself.

CREATE TABLE IF NOT EXISTS public.ipai_audit_log (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id UUID,
    user_id UUID,
    action TEXT NOT NULL,
    details JSONB,
    ip_address INET,
    user_agent TEXT,
    actor_role TEXT NOT NULL DEFAULT coalesce(auth.role(), current_user),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_audit_event_type ON public.ipai_audit_log(event_type);
CREATE INDEX IF NOT EXISTS idx_audit_entity ON public.ipai_audit_log(entity_type, entity_id);
CREATE INDEX IF NOT EXISTS idx_audit_created ON public.ipai_audit_log(created_at);

COMMENT ON TABLE public.ipai_audit_log IS
  'Append-only audit trail: connector runs, agent runs, app actions, schema changes, service-role access.';
COMMENT ON COLUMN public.ipai_audit_log.event_type IS 'connector_run, agent_run, app_action, schema_change, service_access, auth, …';
COMMENT ON COLUMN public.ipai_audit_log.actor_role IS 'JWT role (or database role) that wrote the entry.';

CREATE OR REPLACE FUNCTION public.ipai_audit_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ipai_audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Audit entries are never changed or removed; write a new entry instead.';
END
$$;

DROP TRIGGER IF EXISTS ipai_audit_log_no_update_delete ON public.ipai_audit_log;
CREATE TRIGGER ipai_audit_log_no_update_delete
  BEFORE UPDATE OR DELETE ON public.ipai_audit_log
  FOR EACH ROW EXECUTE FUNCTION public.ipai_audit_log_is_append_only();
DROP TRIGGER IF EXISTS ipai_audit_log_no_truncate ON public.ipai_audit_log;
CREATE TRIGGER ipai_audit_log_no_truncate
  BEFORE TRUNCATE ON public.ipai_audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION public.ipai_audit_log_is_append_only();

ALTER TABLE public.ipai_audit_log ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_audit_log FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_audit_log TO authenticated, service_role;
GRANT INSERT ON public.ipai_audit_log TO service_role;

DROP POLICY IF EXISTS audit_read_admin_auditor ON public.ipai_audit_log;
CREATE POLICY audit_read_admin_auditor ON public.ipai_audit_log
  FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['auditor']));
DROP POLICY IF EXISTS audit_read_own ON public.ipai_audit_log;
CREATE POLICY audit_read_own ON public.ipai_audit_log
  FOR SELECT TO authenticated
  USING (user_id = auth.uid());
DROP POLICY IF EXISTS audit_service_insert ON public.ipai_audit_log;
CREATE POLICY audit_service_insert ON public.ipai_audit_log
  FOR INSERT TO service_role WITH CHECK (true);
DROP POLICY IF EXISTS audit_service_read ON public.ipai_audit_log;
CREATE POLICY audit_service_read ON public.ipai_audit_log
  FOR SELECT TO service_role USING (true);

-- The one way to write an entry. SECURITY DEFINER so any signed-in principal can record what it
-- did, while user_id and actor_role come from the verified JWT, never from the caller.
CREATE OR REPLACE FUNCTION public.ipai_audit(
    p_event_type text,
    p_entity_type text,
    p_entity_id uuid,
    p_action text,
    p_details jsonb DEFAULT '{}'::jsonb,
    p_ip_address inet DEFAULT NULL,
    p_user_agent text DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  new_id uuid;
BEGIN
  INSERT INTO public.ipai_audit_log
    (event_type, entity_type, entity_id, user_id, action, details, ip_address, user_agent, actor_role)
  VALUES
    (p_event_type, p_entity_type, p_entity_id, auth.uid(), p_action, coalesce(p_details, '{}'::jsonb),
     p_ip_address, p_user_agent, coalesce(auth.role(), session_user::text))
  RETURNING id INTO new_id;
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION public.ipai_audit(text, text, uuid, text, jsonb, inet, text) IS
  'Append an audit entry stamped with the caller''s verified identity.';
REVOKE ALL ON FUNCTION public.ipai_audit(text, text, uuid, text, jsonb, inet, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_audit(text, text, uuid, text, jsonb, inet, text)
  TO authenticated, service_role;
