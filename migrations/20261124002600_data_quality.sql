-- Data quality (issue 5, Data Quality Monitor): checks defined per lakehouse relation, and the
-- history of their results. A check is data: a kind (freshness, volume, not_null, unique,
-- accepted_values, referential, schema_drift) and that kind's parameters, validated by the
-- pydantic model of the kind (ipai_core/quality/checks.py) before they are stored.
--
-- Checks run as the service role (every run audited with its reason) after connector runs and
-- transformation refreshes that touch their target, on their own cron schedule, or on request.
-- Only the service role writes results; data engineers define checks; auditors read both.

CREATE TABLE IF NOT EXISTS public.ipai_dq_check (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    params JSONB NOT NULL DEFAULT '{}',
    severity TEXT NOT NULL DEFAULT 'error',
    schedule TEXT,
    enabled BOOLEAN NOT NULL DEFAULT true,
    created_by UUID DEFAULT auth.uid(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_requested_at TIMESTAMPTZ,
    last_requested_by UUID,
    CONSTRAINT dq_check_name_format CHECK (name ~ '^[a-z0-9][a-z0-9_.:-]*$' AND length(name) <= 120),
    -- Only lakehouse relations: a check's samples must never quote the control plane or auth.
    CONSTRAINT dq_check_target_format
      CHECK (target ~ '^ipai_(bronze|silver|gold|platinum)_[a-z0-9_]+\.[A-Za-z_][A-Za-z0-9_]*$'),
    CONSTRAINT dq_check_kind CHECK (kind IN ('freshness', 'volume', 'not_null', 'unique',
                                             'accepted_values', 'referential', 'schema_drift')),
    CONSTRAINT dq_check_params_object CHECK (jsonb_typeof(params) = 'object'),
    CONSTRAINT dq_check_severity CHECK (severity IN ('warn', 'error'))
);
CREATE INDEX IF NOT EXISTS idx_dq_check_target ON public.ipai_dq_check(target);

COMMENT ON TABLE public.ipai_dq_check IS
  'Data quality checks: one rule (kind + params) on one lakehouse relation, run after the syncs and refreshes that touch it, on a schedule, or on request.';
COMMENT ON COLUMN public.ipai_dq_check.name IS 'Unique name, e.g. erp.move_state_values; alerts are keyed dq:<name>.';
COMMENT ON COLUMN public.ipai_dq_check.description IS 'What the check protects, for people.';
COMMENT ON COLUMN public.ipai_dq_check.target IS
  'schema.relation checked (bronze/silver/gold/platinum). Gold checks target the private mv_* stores: served views filter rows by the caller''s roles.';
COMMENT ON COLUMN public.ipai_dq_check.kind IS
  'freshness | volume | not_null | unique | accepted_values | referential | schema_drift.';
COMMENT ON COLUMN public.ipai_dq_check.params IS
  'Parameters of the kind (validated by its pydantic model): e.g. freshness {column, max_age}, referential {column, to, to_column}.';
COMMENT ON COLUMN public.ipai_dq_check.severity IS 'warn or error: the status a failing check records, and its alert''s severity.';
COMMENT ON COLUMN public.ipai_dq_check.schedule IS 'Cron (5 fields, UTC) for scheduled runs; NULL: only after syncs, refreshes and requests.';
COMMENT ON COLUMN public.ipai_dq_check.enabled IS 'Disabled checks never run.';
COMMENT ON COLUMN public.ipai_dq_check.created_by IS 'auth.uid() of whoever defined the check (NULL: the service role).';
COMMENT ON COLUMN public.ipai_dq_check.last_requested_at IS
  'Last "run now" request; the request is an UPDATE under the requester''s RLS, so only data engineers can make one.';
COMMENT ON COLUMN public.ipai_dq_check.last_requested_by IS 'auth.uid() of the last requester.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_dq_check;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_dq_check
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

CREATE TABLE IF NOT EXISTS public.ipai_dq_result (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    check_id UUID NOT NULL REFERENCES public.ipai_dq_check(id) ON DELETE CASCADE,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    observed JSONB NOT NULL DEFAULT '{}',
    message TEXT NOT NULL,
    trigger TEXT NOT NULL,
    run_id UUID REFERENCES public.ipai_connector_run(id) ON DELETE SET NULL,
    requested_by UUID,
    CONSTRAINT dq_result_status CHECK (status IN ('pass', 'warn', 'fail', 'error')),
    CONSTRAINT dq_result_trigger
      CHECK (trigger IN ('connector_run', 'transform', 'schedule', 'manual')),
    CONSTRAINT dq_result_times CHECK (finished_at >= started_at),
    CONSTRAINT dq_result_observed_object CHECK (jsonb_typeof(observed) = 'object')
);
-- The status board (latest result per check) and each check's history; volume checks read it too.
CREATE INDEX IF NOT EXISTS idx_dq_result_check ON public.ipai_dq_result(check_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_dq_result_run ON public.ipai_dq_result(run_id) WHERE run_id IS NOT NULL;

COMMENT ON TABLE public.ipai_dq_result IS
  'One row per check run: status, what was observed (value, threshold, a sample of offending keys), and what triggered it. Written by the service role only.';
COMMENT ON COLUMN public.ipai_dq_result.status IS
  'pass; warn or fail (the check did not hold: its severity decides which); error (it could not run: missing relation, timeout).';
COMMENT ON COLUMN public.ipai_dq_result.observed IS
  'What was measured: value, threshold, history statistics or column differences, and up to five offending keys or values.';
COMMENT ON COLUMN public.ipai_dq_result.message IS 'One line for people: what held or what did not.';
COMMENT ON COLUMN public.ipai_dq_result.trigger IS 'connector_run | transform | schedule | manual.';
COMMENT ON COLUMN public.ipai_dq_result.run_id IS 'The connector run after which the check ran (trigger connector_run).';
COMMENT ON COLUMN public.ipai_dq_result.requested_by IS 'auth.uid() of the user who asked for a manual run.';

ALTER TABLE public.ipai_dq_check ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_dq_result ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_dq_check, public.ipai_dq_result FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_dq_check TO authenticated;
GRANT SELECT ON public.ipai_dq_result TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_dq_check, public.ipai_dq_result TO service_role;

DROP POLICY IF EXISTS dq_check_read ON public.ipai_dq_check;
CREATE POLICY dq_check_read ON public.ipai_dq_check FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['data_engineer', 'auditor']));
DROP POLICY IF EXISTS dq_check_insert ON public.ipai_dq_check;
CREATE POLICY dq_check_insert ON public.ipai_dq_check FOR INSERT TO authenticated
  WITH CHECK (public.ipai_has_role('data_engineer'));
DROP POLICY IF EXISTS dq_check_update ON public.ipai_dq_check;
CREATE POLICY dq_check_update ON public.ipai_dq_check FOR UPDATE TO authenticated
  USING (public.ipai_has_role('data_engineer')) WITH CHECK (public.ipai_has_role('data_engineer'));
DROP POLICY IF EXISTS dq_check_delete ON public.ipai_dq_check;
CREATE POLICY dq_check_delete ON public.ipai_dq_check FOR DELETE TO authenticated
  USING (public.ipai_has_role('data_engineer'));
DROP POLICY IF EXISTS dq_check_service ON public.ipai_dq_check;
CREATE POLICY dq_check_service ON public.ipai_dq_check FOR ALL TO service_role
  USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS dq_result_read ON public.ipai_dq_result;
CREATE POLICY dq_result_read ON public.ipai_dq_result FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['data_engineer', 'auditor']));
DROP POLICY IF EXISTS dq_result_service ON public.ipai_dq_result;
CREATE POLICY dq_result_service ON public.ipai_dq_result FOR ALL TO service_role
  USING (true) WITH CHECK (true);
