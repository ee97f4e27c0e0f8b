-- Agents and their runs (PRD R4.4). An agent is data: its allowed tools, schemas, operations and
-- budgets live here and are enforced by the governance layer and, in the database, by grants/RLS.

CREATE TABLE IF NOT EXISTS public.ipai_agent (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    code_name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    description TEXT,
    agent_type TEXT NOT NULL,
    allowed_tools TEXT[] NOT NULL DEFAULT '{}',
    allowed_schemas TEXT[] NOT NULL DEFAULT '{}',
    allowed_operations TEXT[] NOT NULL DEFAULT '{read}',
    cost_budget_usd DECIMAL(10, 4),
    latency_budget_ms INTEGER,
    config JSONB NOT NULL DEFAULT '{}',
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT agent_code_name_format CHECK (code_name ~ '^[a-z][a-z0-9_-]*$'),
    CONSTRAINT agent_type_known CHECK (agent_type IN ('pulser', 'claude', 'gemini', 'openai', 'custom')),
    CONSTRAINT agent_operations_known CHECK (allowed_operations <@ ARRAY['read', 'write', 'transform', 'schedule']),
    CONSTRAINT agent_budgets_positive CHECK (coalesce(cost_budget_usd, 0) >= 0 AND coalesce(latency_budget_ms, 1) > 0)
);
COMMENT ON TABLE public.ipai_agent IS
  'Registered AI agents with allowed tools, schemas, operations and cost/latency budgets.';

CREATE TABLE IF NOT EXISTS public.ipai_agent_run (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id UUID NOT NULL REFERENCES public.ipai_agent(id) ON DELETE CASCADE,
    user_id UUID,
    session_id TEXT,
    tool TEXT,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at TIMESTAMPTZ,
    status TEXT NOT NULL DEFAULT 'running',
    input_summary JSONB,
    output_summary JSONB,
    tokens_used INTEGER,
    cost_usd DECIMAL(10, 6),
    latency_ms INTEGER,
    error_message TEXT,
    metadata JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT agent_run_status CHECK (status IN ('running', 'success', 'failed', 'refused'))
);
CREATE INDEX IF NOT EXISTS idx_agent_run_agent ON public.ipai_agent_run(agent_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_agent_run_user ON public.ipai_agent_run(user_id, started_at DESC);
COMMENT ON TABLE public.ipai_agent_run IS
  'One row per agent invocation: who, which tool, input/output summaries, tokens, cost, latency, outcome.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_agent;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_agent
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_agent ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_agent_run ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_agent, public.ipai_agent_run FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_agent TO authenticated;
GRANT SELECT ON public.ipai_agent_run TO authenticated;
GRANT ALL ON public.ipai_agent, public.ipai_agent_run TO service_role;

CREATE POLICY agent_read ON public.ipai_agent FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['ai_engineer', 'auditor']));
CREATE POLICY agent_write ON public.ipai_agent FOR ALL TO authenticated
  USING (public.ipai_has_role('ai_engineer')) WITH CHECK (public.ipai_has_role('ai_engineer'));
CREATE POLICY agent_service ON public.ipai_agent FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY agent_run_read ON public.ipai_agent_run FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['ai_engineer', 'auditor']) OR user_id = auth.uid());
CREATE POLICY agent_run_service ON public.ipai_agent_run FOR ALL TO service_role USING (true) WITH CHECK (true);
