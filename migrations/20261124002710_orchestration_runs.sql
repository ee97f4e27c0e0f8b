-- Runs that orchestrators (n8n, an agent's MCP call) ask for over HTTP: a connector run or a
-- transformation refresh (PRD 4.1.6). A request is accepted only through
-- ipai_orchestration_request(), which lets in exactly: a user with the data_engineer role (admin
-- implied), or an active agent with the `schedule` operation — checked here, in the database.
-- The process that accepted the request runs it and records the outcome as the service role.

CREATE TABLE IF NOT EXISTS public.ipai_orchestration_run (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    selectors TEXT[] NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'queued',
    requested_by_user UUID,
    requested_by_agent UUID REFERENCES public.ipai_agent(id) ON DELETE SET NULL,
    requested_via TEXT NOT NULL,
    runner TEXT,
    connector_run_id UUID REFERENCES public.ipai_connector_run(id) ON DELETE SET NULL,
    result JSONB NOT NULL DEFAULT '{}',
    error_message TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    CONSTRAINT orchestration_kind CHECK (kind IN ('connector', 'transformation')),
    CONSTRAINT orchestration_status CHECK (status IN ('queued', 'running', 'success', 'failed')),
    CONSTRAINT orchestration_via CHECK (requested_via IN ('http', 'mcp'))
);
CREATE INDEX IF NOT EXISTS idx_orchestration_run_created
  ON public.ipai_orchestration_run(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_orchestration_run_agent
  ON public.ipai_orchestration_run(requested_by_agent, created_at DESC)
  WHERE requested_by_agent IS NOT NULL;

COMMENT ON TABLE public.ipai_orchestration_run IS
  'Connector runs and transformation refreshes requested over HTTP or MCP by users and agents.';
COMMENT ON COLUMN public.ipai_orchestration_run.kind IS 'connector or transformation.';
COMMENT ON COLUMN public.ipai_orchestration_run.target IS
  'The connector name, or `transformations` for a refresh.';
COMMENT ON COLUMN public.ipai_orchestration_run.selectors IS
  'For a transformation: the selected views (empty: all), as `ipai transform run --select`.';
COMMENT ON COLUMN public.ipai_orchestration_run.status IS 'queued → running → success | failed.';
COMMENT ON COLUMN public.ipai_orchestration_run.requested_by_user IS
  'The user who asked (or on whose behalf the agent asked).';
COMMENT ON COLUMN public.ipai_orchestration_run.requested_by_agent IS 'The agent that asked, if any.';
COMMENT ON COLUMN public.ipai_orchestration_run.runner IS
  'host:pid of the process running it; that process holds an advisory lock on the run while it runs.';
COMMENT ON COLUMN public.ipai_orchestration_run.connector_run_id IS 'The ipai_connector_run it produced.';
COMMENT ON COLUMN public.ipai_orchestration_run.result IS
  'Outcome summary: streams and row counts, or views refreshed.';

ALTER TABLE public.ipai_orchestration_run ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_orchestration_run FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_orchestration_run TO authenticated;
GRANT SELECT, INSERT, UPDATE ON public.ipai_orchestration_run TO service_role;

DROP POLICY IF EXISTS orchestration_run_read ON public.ipai_orchestration_run;
CREATE POLICY orchestration_run_read ON public.ipai_orchestration_run FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['data_engineer', 'auditor'])
         OR requested_by_user = auth.uid());
DROP POLICY IF EXISTS orchestration_run_service ON public.ipai_orchestration_run;
CREATE POLICY orchestration_run_service ON public.ipai_orchestration_run FOR ALL TO service_role
  USING (true) WITH CHECK (true);

-- Who may trigger runs: an active agent allowed to `schedule` (acting for a user: only when the
-- session's roles also include data_engineer), or a data engineer (admin implied).
CREATE OR REPLACE FUNCTION public.ipai_orchestration_allowed() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT CASE
    WHEN public.ipai_agent_current_id() IS NOT NULL THEN
      EXISTS (SELECT 1 FROM public.ipai_agent a
               WHERE a.id = public.ipai_agent_current_id()
                 AND a.is_active AND 'schedule' = ANY (a.allowed_operations))
      AND (nullif(auth.jwt() ->> 'ipai_on_behalf_of', '') IS NULL
           OR public.ipai_has_role('data_engineer'))
    WHEN current_setting('role') = 'authenticated' THEN public.ipai_has_role('data_engineer')
    ELSE false
  END
$$;
COMMENT ON FUNCTION public.ipai_orchestration_allowed() IS
  'True for an active agent with the schedule operation (for a user: with data_engineer too), or a data engineer.';

CREATE OR REPLACE FUNCTION public.ipai_orchestration_request(
    p_kind text, p_target text, p_selectors text[], p_via text
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  agent_id uuid := public.ipai_agent_current_id();
  user_id uuid := CASE WHEN agent_id IS NULL THEN auth.uid()
                       ELSE nullif(auth.jwt() ->> 'ipai_on_behalf_of', '')::uuid END;
  run_id uuid;
BEGIN
  IF NOT public.ipai_orchestration_allowed() THEN
    RAISE EXCEPTION 'triggering runs needs an agent with the schedule operation, or the data_engineer role'
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'ipai agents update CODE --operation schedule, or ipai users grant EMAIL data_engineer';
  END IF;
  IF p_kind = 'connector' AND NOT EXISTS (
       SELECT 1 FROM public.ipai_connector_config c WHERE c.name = p_target) THEN
    RAISE EXCEPTION 'no connector named %', p_target
      USING ERRCODE = 'no_data_found', HINT = 'List connectors with `ipai connectors list`.';
  END IF;
  INSERT INTO public.ipai_orchestration_run
    (kind, target, selectors, requested_by_user, requested_by_agent, requested_via)
  VALUES (p_kind, p_target, coalesce(p_selectors, '{}'), user_id, agent_id, p_via)
  RETURNING id INTO run_id;
  PERFORM public.ipai_audit('orchestration', p_kind, run_id, 'requested',
    jsonb_build_object('target', p_target, 'selectors', p_selectors, 'via', p_via,
                       'agent_id', agent_id, 'user_id', user_id));
  RETURN run_id;
END
$$;
COMMENT ON FUNCTION public.ipai_orchestration_request(text, text, text[], text) IS
  'Accepts a run request from an allowed caller (see ipai_orchestration_allowed) and returns its id.';

-- Reading a run back: its requester, or anyone allowed to trigger runs.
CREATE OR REPLACE FUNCTION public.ipai_orchestration_get(p_id uuid)
RETURNS SETOF public.ipai_orchestration_run
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT r.* FROM public.ipai_orchestration_run r
   WHERE r.id = p_id
     AND (public.ipai_orchestration_allowed()
          OR (public.ipai_agent_current_id() IS NULL AND r.requested_by_user = auth.uid()))
$$;
COMMENT ON FUNCTION public.ipai_orchestration_get(uuid) IS
  'One orchestration run, for its requester or a caller allowed to trigger runs.';

REVOKE ALL ON FUNCTION public.ipai_orchestration_allowed(),
  public.ipai_orchestration_request(text, text, text[], text),
  public.ipai_orchestration_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_orchestration_allowed(),
  public.ipai_orchestration_request(text, text, text[], text),
  public.ipai_orchestration_get(uuid) TO authenticated, ipai_agents;
