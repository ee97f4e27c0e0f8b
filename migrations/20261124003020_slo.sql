-- Service level objectives as data (issue 7, PRD R5.2): what we promise, in a table, and what we
-- deliver, computed by a view from the run histories (connector runs, agent runs, uptime probes).
--
-- Every SLO is read as good and bad events with an error budget:
--
--   connector_success_rate      events: finished connector runs; bad: failed.
--                               objective: share of good runs (0.99); budget: 1 - objective.
--   agent_p95_latency           events: finished agent calls; bad: slower than objective ms.
--                               objective: ms (5000); budget: 1 - params.percentile (0.05), i.e.
--                               "p95 under 5 s" is "at most 5 % of calls over 5 s".
--   agent_failed_calls_per_day  events: finished agent calls, per project; bad: failed.
--                               objective: failed calls allowed per day (the budget itself).
--   app_availability            events: uptime probes of params.target; bad: down.
--                               objective: share of good probes (0.999); budget: 1 - objective.
--
-- Burn rate over a period = how fast the budget goes: (bad share in the period / budget share),
-- or for per-day budgets (bad per day in the period / objective). 1 spends exactly the budget
-- over the window; 14.4 over 1 h spends 2 % of a 30-day budget in that hour (the usual page).

CREATE TABLE IF NOT EXISTS public.ipai_slo (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    kind TEXT NOT NULL,
    objective NUMERIC NOT NULL,
    time_window INTERVAL NOT NULL,
    params JSONB NOT NULL DEFAULT '{}',
    enabled BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT slo_name_format CHECK (name ~ '^[a-z][a-z0-9_-]*$'),
    CONSTRAINT slo_kind_known CHECK (kind IN ('connector_success_rate', 'agent_p95_latency',
                                              'agent_failed_calls_per_day', 'app_availability')),
    CONSTRAINT slo_objective_positive CHECK (objective > 0),
    CONSTRAINT slo_share_objective CHECK (
      kind NOT IN ('connector_success_rate', 'app_availability') OR objective < 1),
    CONSTRAINT slo_percentile CHECK (
      kind <> 'agent_p95_latency'
      OR (coalesce((params ->> 'percentile')::numeric, 0.95) > 0
          AND coalesce((params ->> 'percentile')::numeric, 0.95) < 1)),
    CONSTRAINT slo_window CHECK (time_window >= interval '6 hours' AND time_window <= interval '90 days'),
    CONSTRAINT slo_params_object CHECK (jsonb_typeof(params) = 'object')
);
COMMENT ON TABLE public.ipai_slo IS
  'Service level objectives: kind, objective, window and filters (params: connector, agent, project, target, percentile). public.ipai_slo_status computes them.';
COMMENT ON COLUMN public.ipai_slo.objective IS
  'A share for success-rate and availability kinds (0.99), milliseconds for agent_p95_latency, failed calls per day for agent_failed_calls_per_day.';
COMMENT ON COLUMN public.ipai_slo.time_window IS 'The rolling window the objective is measured over (6 hours to 90 days).';
COMMENT ON COLUMN public.ipai_slo.params IS
  'Optional filters: {"connector": name}, {"agent": code_name}, {"project": name}, {"target": uptime target}; {"percentile": 0.95} for latency.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_slo;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_slo
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_slo ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_slo FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_slo TO authenticated, service_role;
DROP POLICY IF EXISTS slo_read ON public.ipai_slo;
CREATE POLICY slo_read ON public.ipai_slo FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'auditor']));
DROP POLICY IF EXISTS slo_write ON public.ipai_slo;
CREATE POLICY slo_write ON public.ipai_slo FOR ALL TO authenticated
  USING (public.ipai_has_role('devops')) WITH CHECK (public.ipai_has_role('devops'));
DROP POLICY IF EXISTS slo_service ON public.ipai_slo;
CREATE POLICY slo_service ON public.ipai_slo FOR ALL TO service_role USING (true) WITH CHECK (true);

-- The issue's four. X = 10 failed agent calls per project per day: a project's agents make tens
-- to a few hundred calls a day, so ten failures is a few per cent — past that a model, a tool or
-- a grant is broken, not a prompt; below it, one bad afternoon does not page anybody.
INSERT INTO public.ipai_slo (name, description, kind, objective, time_window, params) VALUES
  ('connector-success-rate',
   'At least 99 % of connector runs over the last 7 days succeed.',
   'connector_success_rate', 0.99, interval '7 days', '{}'),
  ('agent-p95-latency',
   '95 % of agent calls over the last day finish within 5 seconds.',
   'agent_p95_latency', 5000, interval '1 day', '{"percentile": 0.95}'),
  ('agent-failed-calls',
   'No project has more than 10 failed agent calls a day.',
   'agent_failed_calls_per_day', 10, interval '1 day', '{}'),
  ('app-availability',
   'The workspace answers its health probe 99.9 % of the time over 30 days.',
   'app_availability', 0.999, interval '30 days', '{"target": "workspace"}')
ON CONFLICT (name) DO NOTHING;

-- What happened: one row per finished event of each kind, with the columns SLO filters use.
-- Runs still in progress and refused agent calls (governance doing its job) are not events.
CREATE OR REPLACE VIEW public.ipai_slo_event WITH (security_barrier) AS
SELECT 'connector' AS source, coalesce(r.ended_at, r.started_at) AS at,
       r.status = 'failed' AS failed, extract(epoch FROM r.ended_at - r.started_at) * 1000 AS latency_ms,
       c.name AS connector, NULL::text AS agent, NULL::text AS project, NULL::text AS target
  FROM public.ipai_connector_run r JOIN public.ipai_connector_config c ON c.id = r.connector_id
 WHERE r.status IN ('success', 'failed')
   AND (auth.role() = 'service_role' OR public.ipai_has_any_role(ARRAY['devops', 'auditor']))
UNION ALL
SELECT 'agent', coalesce(r.ended_at, r.started_at), r.status = 'failed',
       coalesce(r.latency_ms::float8, extract(epoch FROM r.ended_at - r.started_at) * 1000),
       NULL, a.code_name, coalesce(r.metadata ->> 'project', a.config ->> 'project', 'default'), NULL
  FROM public.ipai_agent_run r JOIN public.ipai_agent a ON a.id = r.agent_id
 WHERE r.status IN ('success', 'failed')
   AND (auth.role() = 'service_role' OR public.ipai_has_any_role(ARRAY['devops', 'auditor']))
UNION ALL
SELECT 'uptime', p.probed_at, NOT p.up, p.latency_ms, NULL, NULL, NULL, p.target
  FROM public.ipai_uptime_probe p
 WHERE auth.role() = 'service_role' OR public.ipai_has_any_role(ARRAY['devops', 'auditor']);
COMMENT ON VIEW public.ipai_slo_event IS
  'SLO events: finished connector runs, finished agent calls (with project and latency) and uptime probes, as good/bad with their filters. Admin, devops, auditor and the service role.';

-- Counts per SLO (and per project for agent_failed_calls_per_day) over the window, 6 h and 1 h.
CREATE OR REPLACE VIEW public.ipai_slo_measure WITH (security_barrier) AS
SELECT s.id AS slo_id, s.name, s.kind, s.description, s.objective, s.time_window, s.params,
       coalesce(m.subject, coalesce(s.params ->> 'project', 'all')) AS subject,
       coalesce(m.events, 0) AS events, coalesce(m.bad, 0) AS bad,
       coalesce(m.events_6h, 0) AS events_6h, coalesce(m.bad_6h, 0) AS bad_6h,
       coalesce(m.events_1h, 0) AS events_1h, coalesce(m.bad_1h, 0) AS bad_1h,
       m.latency_quantile_ms
  FROM public.ipai_slo s
  LEFT JOIN LATERAL (
    SELECT CASE WHEN s.kind = 'agent_failed_calls_per_day' THEN e.project ELSE 'all' END AS subject,
           count(*) AS events,
           count(*) FILTER (WHERE e.bad) AS bad,
           count(*) FILTER (WHERE e.at > now() - interval '6 hours') AS events_6h,
           count(*) FILTER (WHERE e.bad AND e.at > now() - interval '6 hours') AS bad_6h,
           count(*) FILTER (WHERE e.at > now() - interval '1 hour') AS events_1h,
           count(*) FILTER (WHERE e.bad AND e.at > now() - interval '1 hour') AS bad_1h,
           percentile_cont(coalesce((s.params ->> 'percentile')::float8, 0.95))
             WITHIN GROUP (ORDER BY e.latency_ms) AS latency_quantile_ms
      FROM (SELECT ev.*,
                   CASE WHEN s.kind = 'agent_p95_latency' THEN ev.latency_ms > s.objective
                        ELSE ev.failed END AS bad
              FROM public.ipai_slo_event ev
             WHERE ev.source = CASE s.kind WHEN 'connector_success_rate' THEN 'connector'
                                           WHEN 'app_availability' THEN 'uptime'
                                           ELSE 'agent' END
               AND ev.at > now() - s.time_window AND ev.at <= now()
               AND (s.params ->> 'connector' IS NULL OR ev.connector = s.params ->> 'connector')
               AND (s.params ->> 'agent' IS NULL OR ev.agent = s.params ->> 'agent')
               AND (s.params ->> 'project' IS NULL OR ev.project = s.params ->> 'project')
               AND (s.params ->> 'target' IS NULL OR ev.target = s.params ->> 'target')) e
     GROUP BY 1) m ON true
 WHERE s.enabled
   AND (auth.role() = 'service_role' OR public.ipai_has_any_role(ARRAY['devops', 'auditor']));
COMMENT ON VIEW public.ipai_slo_measure IS
  'Good and bad event counts of each enabled SLO over its window, the last 6 hours and the last hour (and the latency quantile). Input of ipai_slo_status.';

-- The answer: current value, whether the objective is met, error budget left, burn rates.
CREATE OR REPLACE VIEW public.ipai_slo_status WITH (security_barrier) AS
WITH m AS (
  SELECT *,
         extract(epoch FROM time_window) / 86400.0 AS window_days,
         CASE kind WHEN 'agent_p95_latency'
                   THEN 1 - coalesce((params ->> 'percentile')::numeric, 0.95)
                   WHEN 'agent_failed_calls_per_day' THEN NULL
                   ELSE 1 - objective END AS budget_share
    FROM public.ipai_slo_measure
   WHERE auth.role() = 'service_role' OR public.ipai_has_any_role(ARRAY['devops', 'auditor']))
SELECT slo_id, name, kind, description, subject, objective, time_window, events, bad,
       CASE kind
         WHEN 'agent_p95_latency' THEN round(latency_quantile_ms::numeric, 1)
         WHEN 'agent_failed_calls_per_day' THEN round(bad / window_days::numeric, 2)
         ELSE round(1 - bad::numeric / nullif(events, 0), 5)
       END AS current_value,
       CASE kind
         WHEN 'agent_p95_latency' THEN events = 0 OR latency_quantile_ms <= objective
         WHEN 'agent_failed_calls_per_day' THEN bad / window_days::numeric <= objective
         ELSE events = 0 OR 1 - bad::numeric / events >= objective
       END AS objective_met,
       CASE WHEN budget_share IS NULL THEN round(objective * window_days::numeric, 2)
            ELSE round(budget_share * events, 2) END AS error_budget,
       CASE WHEN budget_share IS NULL
            THEN round(1 - bad / (objective * window_days::numeric), 4)
            WHEN events = 0 THEN 1
            ELSE round(1 - (bad::numeric / events) / budget_share, 4) END AS budget_remaining,
       CASE WHEN budget_share IS NULL THEN round(bad_1h / (objective / 24), 2)
            ELSE round(coalesce((bad_1h::numeric / nullif(events_1h, 0)) / budget_share, 0), 2)
       END AS burn_rate_1h,
       CASE WHEN budget_share IS NULL THEN round(bad_6h / (objective / 4), 2)
            ELSE round(coalesce((bad_6h::numeric / nullif(events_6h, 0)) / budget_share, 0), 2)
       END AS burn_rate_6h,
       CASE WHEN budget_share IS NULL THEN round(bad / (objective * window_days::numeric), 2)
            ELSE round(coalesce((bad::numeric / nullif(events, 0)) / budget_share, 0), 2)
       END AS burn_rate_window,
       params
  FROM m;
COMMENT ON VIEW public.ipai_slo_status IS
  'Each enabled SLO now: current value (share, ms, or failed calls per day), objective met, error budget (events or calls), budget remaining (1 = untouched, < 0 = overspent), burn rate over 1 h, 6 h and the window. Admin, devops, auditor and the service role.';

GRANT SELECT ON public.ipai_slo_event, public.ipai_slo_measure, public.ipai_slo_status
  TO authenticated, service_role;
