-- Connector configuration and run history (PRD R2.4). Configs hold references to vault secrets,
-- never the secrets. Admins and data engineers manage connectors; connectors run as service_role.

CREATE TABLE IF NOT EXISTS public.ipai_connector_config (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    connector_type TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    config JSONB NOT NULL,
    vault_secret_refs TEXT[] NOT NULL DEFAULT '{}',
    schedule TEXT,
    is_enabled BOOLEAN NOT NULL DEFAULT true,
    created_by UUID DEFAULT auth.uid(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT connector_type_format CHECK (connector_type ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT connector_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$')
);
COMMENT ON TABLE public.ipai_connector_config IS
  'Configured sources: type, type-specific config (validated by the connector), vault secret references, cron schedule.';
COMMENT ON COLUMN public.ipai_connector_config.vault_secret_refs IS 'Names of vault secrets the connector reads; never the values.';
COMMENT ON COLUMN public.ipai_connector_config.schedule IS 'Cron expression (5 fields, UTC); NULL means manual runs only.';

CREATE TABLE IF NOT EXISTS public.ipai_connector_run (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    connector_id UUID NOT NULL REFERENCES public.ipai_connector_config(id) ON DELETE CASCADE,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at TIMESTAMPTZ,
    status TEXT NOT NULL DEFAULT 'running',
    rows_read BIGINT NOT NULL DEFAULT 0,
    rows_written BIGINT NOT NULL DEFAULT 0,
    error_message TEXT,
    metadata JSONB NOT NULL DEFAULT '{}',
    triggered_by TEXT NOT NULL DEFAULT 'manual',
    CONSTRAINT connector_run_status CHECK (status IN ('queued', 'running', 'success', 'failed', 'cancelled')),
    CONSTRAINT connector_run_ended CHECK (status IN ('queued', 'running') OR ended_at IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS idx_connector_run_connector ON public.ipai_connector_run(connector_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_connector_run_status ON public.ipai_connector_run(status) WHERE status IN ('queued', 'running');
COMMENT ON TABLE public.ipai_connector_run IS
  'One row per connector run: status, timing, row counts, per-stream metrics in metadata, error.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_connector_config;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_connector_config
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_connector_config ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_connector_run ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_connector_config, public.ipai_connector_run FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_connector_config TO authenticated;
GRANT SELECT ON public.ipai_connector_run TO authenticated;
GRANT ALL ON public.ipai_connector_config, public.ipai_connector_run TO service_role;

CREATE POLICY connector_config_read ON public.ipai_connector_config FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['data_engineer', 'analyst']));
CREATE POLICY connector_config_write ON public.ipai_connector_config FOR ALL TO authenticated
  USING (public.ipai_has_role('data_engineer')) WITH CHECK (public.ipai_has_role('data_engineer'));
CREATE POLICY connector_config_service ON public.ipai_connector_config FOR ALL TO service_role
  USING (true) WITH CHECK (true);
CREATE POLICY connector_run_read ON public.ipai_connector_run FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['data_engineer', 'analyst']));
CREATE POLICY connector_run_service ON public.ipai_connector_run FOR ALL TO service_role
  USING (true) WITH CHECK (true);
