-- Sync state and quarantine for the connector framework.
-- A stream's cursor is committed in the same transaction as the rows it describes, so a run killed
-- at any moment resumes exactly where the committed data ends. Rows that cannot be loaded are kept
-- in the quarantine with their raw value and the reason: never silently dropped.

CREATE TABLE public.ipai_connector_state (
    connector_id UUID NOT NULL REFERENCES public.ipai_connector_config(id) ON DELETE CASCADE,
    stream TEXT NOT NULL,
    cursor JSONB NOT NULL DEFAULT '{}',
    run_id UUID REFERENCES public.ipai_connector_run(id) ON DELETE SET NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (connector_id, stream)
);
COMMENT ON TABLE public.ipai_connector_state IS
  'Per-stream sync position (cursor value, file fingerprints, CDC LSN) committed with its data.';

CREATE TABLE public.ipai_connector_quarantine (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector_id UUID NOT NULL REFERENCES public.ipai_connector_config(id) ON DELETE CASCADE,
    run_id UUID REFERENCES public.ipai_connector_run(id) ON DELETE SET NULL,
    stream TEXT NOT NULL,
    source TEXT NOT NULL,
    raw_value TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_quarantine_connector ON public.ipai_connector_quarantine(connector_id, created_at DESC);
CREATE INDEX idx_quarantine_run ON public.ipai_connector_quarantine(run_id);
COMMENT ON TABLE public.ipai_connector_quarantine IS
  'Rows a connector could not load: where they came from, the raw value and why they were refused.';

ALTER TABLE public.ipai_connector_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_connector_quarantine ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_connector_state, public.ipai_connector_quarantine FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.ipai_connector_state, public.ipai_connector_quarantine TO authenticated;
GRANT ALL ON public.ipai_connector_state, public.ipai_connector_quarantine TO service_role;

CREATE POLICY connector_state_read ON public.ipai_connector_state FOR SELECT TO authenticated
  USING (public.ipai_has_role('data_engineer'));
CREATE POLICY connector_state_service ON public.ipai_connector_state FOR ALL TO service_role
  USING (true) WITH CHECK (true);
CREATE POLICY quarantine_read ON public.ipai_connector_quarantine FOR SELECT TO authenticated
  USING (public.ipai_has_role('data_engineer'));
CREATE POLICY quarantine_service ON public.ipai_connector_quarantine FOR ALL TO service_role
  USING (true) WITH CHECK (true);

-- Bronze tables are created by the sync engine as they are discovered. This function gives each
-- one the standard guard: RLS on, readable by data engineers (admins), written by the service role.
CREATE OR REPLACE FUNCTION public.ipai_guard_bronze_table(p_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
  EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, anon', p_table);
  EXECUTE format('GRANT SELECT ON %s TO authenticated', p_table);
  EXECUTE format('GRANT ALL ON %s TO service_role', p_table);
  IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = p_table AND polname = 'bronze_read') THEN
    EXECUTE format('CREATE POLICY bronze_read ON %s FOR SELECT TO authenticated '
                   'USING (public.ipai_has_role(''data_engineer''))', p_table);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = p_table AND polname = 'bronze_service') THEN
    EXECUTE format('CREATE POLICY bronze_service ON %s FOR ALL TO service_role '
                   'USING (true) WITH CHECK (true)', p_table);
  END IF;
END
$$;
COMMENT ON FUNCTION public.ipai_guard_bronze_table(regclass) IS
  'Applies the standard bronze guard (RLS, grants, policies) to a table the sync engine created.';
REVOKE ALL ON FUNCTION public.ipai_guard_bronze_table(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_guard_bronze_table(regclass) TO service_role;

-- The sync engine (running as service_role) creates and evolves bronze tables, so it owns them.
DO $$
DECLARE
  s text;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname ~ '^ipai_bronze_'
  LOOP
    EXECUTE format('GRANT CREATE ON SCHEMA %I TO service_role', s);
  END LOOP;
END
$$;
