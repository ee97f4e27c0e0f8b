-- What the workspace's Observability page charts besides spans and metric points: connector runs
-- and agent calls as operators need them (durations, rows, bytes, latency, errors), readable by
-- admin, devops and auditor — who may not read the run tables themselves (those are for data
-- engineers and AI engineers) — and never the runs' inputs, outputs or configs.

CREATE OR REPLACE VIEW public.ipai_observed_connector_run WITH (security_barrier) AS
SELECT r.id AS run_id, c.name AS connector, c.connector_type, r.started_at, r.ended_at, r.status,
       coalesce((r.metadata ->> 'duration_s')::float8,
                extract(epoch FROM r.ended_at - r.started_at)::float8) AS duration_s,
       r.rows_read, r.rows_written,
       coalesce((r.metadata ->> 'bytes_read')::bigint, 0) AS bytes_read,
       coalesce((r.metadata ->> 'rows_quarantined')::bigint, 0) AS rows_quarantined,
       r.triggered_by, r.error_message
  FROM public.ipai_connector_run r JOIN public.ipai_connector_config c ON c.id = r.connector_id
 WHERE auth.role() = 'service_role' OR public.ipai_has_any_role(ARRAY['devops', 'auditor']);
COMMENT ON VIEW public.ipai_observed_connector_run IS
  'Connector runs for operators: status, duration, rows, bytes, error (no configs). Admin, devops, auditor and the service role.';

CREATE OR REPLACE VIEW public.ipai_observed_agent_call WITH (security_barrier) AS
SELECT r.id AS run_id, a.code_name AS agent,
       coalesce(r.metadata ->> 'project', a.config ->> 'project', 'default') AS project,
       r.tool, r.started_at, r.ended_at, r.status,
       coalesce(r.latency_ms::float8, extract(epoch FROM r.ended_at - r.started_at) * 1000) AS latency_ms,
       r.tokens_used, r.cost_usd, r.error_message
  FROM public.ipai_agent_run r JOIN public.ipai_agent a ON a.id = r.agent_id
 WHERE auth.role() = 'service_role' OR public.ipai_has_any_role(ARRAY['devops', 'auditor']);
COMMENT ON VIEW public.ipai_observed_agent_call IS
  'Agent calls for operators: agent, project, tool, status, latency, tokens, cost, error (no inputs or outputs). Admin, devops, auditor and the service role.';

GRANT SELECT ON public.ipai_observed_connector_run, public.ipai_observed_agent_call
  TO authenticated, service_role;
