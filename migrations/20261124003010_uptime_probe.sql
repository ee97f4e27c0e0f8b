-- Uptime of the workspace, measured from outside it (issue 7): the scheduler's `uptime_probe`
-- job calls the workspace's /healthz every minute and records what it saw. The app
-- availability SLO and the `uptime` alert rules read these rows.

CREATE TABLE IF NOT EXISTS public.ipai_uptime_probe (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target TEXT NOT NULL,
    url TEXT NOT NULL,
    probed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    up BOOLEAN NOT NULL,
    status_code INTEGER,
    latency_ms DOUBLE PRECISION,
    error TEXT,
    probed_by TEXT NOT NULL,
    CONSTRAINT uptime_probe_target_format CHECK (target ~ '^[a-z][a-z0-9_-]*$'),
    CONSTRAINT uptime_probe_latency CHECK (latency_ms IS NULL OR latency_ms >= 0)
);
CREATE INDEX IF NOT EXISTS idx_uptime_probe_target ON public.ipai_uptime_probe(target, probed_at DESC);

COMMENT ON TABLE public.ipai_uptime_probe IS
  'One row per health probe of a target (the workspace''s /healthz, every minute, by the scheduler): up or down, HTTP status, latency.';
COMMENT ON COLUMN public.ipai_uptime_probe.target IS 'What was probed: `workspace` by default.';
COMMENT ON COLUMN public.ipai_uptime_probe.up IS 'True when the probe got HTTP 200 within its timeout.';
COMMENT ON COLUMN public.ipai_uptime_probe.error IS 'Why it counted as down (connection refused, timeout, HTTP 503, …).';
COMMENT ON COLUMN public.ipai_uptime_probe.probed_by IS 'scheduler_id of the scheduler that ran the probe.';

ALTER TABLE public.ipai_uptime_probe ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_uptime_probe FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_uptime_probe TO authenticated;
GRANT SELECT, INSERT, DELETE ON public.ipai_uptime_probe TO service_role;

DROP POLICY IF EXISTS uptime_probe_read ON public.ipai_uptime_probe;
CREATE POLICY uptime_probe_read ON public.ipai_uptime_probe FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'auditor']));
DROP POLICY IF EXISTS uptime_probe_service ON public.ipai_uptime_probe;
CREATE POLICY uptime_probe_service ON public.ipai_uptime_probe FOR ALL TO service_role
  USING (true) WITH CHECK (true);
