-- Alert rules (issue 7, PRD 4.1.6): what the scheduler's `alert_rules` job evaluates on each
-- rule's cron schedule. A rule watches one kind of condition; while it holds, the rule fires an
-- alert through ipai_core.alerts (deduplicated by key while firing, one resolve message when it
-- clears, delivery retried and recorded there). Each alert carries its runbook
-- (docs/runbooks/<kind>.md).
--
--   slo_burn          an SLO burns its error budget too fast: burn_rate_1h >= params.fast_burn
--                     (14.4) or burn_rate_6h >= params.slow_burn (6); one alert per SLO subject.
--   connector_failed  a connector's last params.consecutive (1) finished runs all failed; one
--                     alert per connector.
--   dq_failed         at least params.min_checks (1) data quality checks of params.severity
--                     ('error' or 'warn' and worse) fail for params.failing_for_minutes (0); one
--                     roll-up alert per rule (each check also alerts on its own, dq:<check>).
--   agent_errors      an agent had params.threshold (5) or more failed calls in the last
--                     params.window_minutes (60); one alert per agent.
--   uptime            the last params.consecutive (3) probes of params.target were down, or no
--                     probe arrived for params.stale_minutes (10); one alert per target.

CREATE TABLE IF NOT EXISTS public.ipai_alert_rule (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    params JSONB NOT NULL DEFAULT '{}',
    severity TEXT NOT NULL DEFAULT 'error',
    destinations TEXT[] NOT NULL DEFAULT '{}',
    schedule TEXT NOT NULL DEFAULT '* * * * *',
    enabled BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT alert_rule_name_format CHECK (name ~ '^[a-z][a-z0-9_-]*$' AND length(name) <= 80),
    CONSTRAINT alert_rule_kind_known
      CHECK (kind IN ('slo_burn', 'connector_failed', 'dq_failed', 'agent_errors', 'uptime')),
    CONSTRAINT alert_rule_severity CHECK (severity IN ('warn', 'error')),
    CONSTRAINT alert_rule_params_object CHECK (jsonb_typeof(params) = 'object')
);
COMMENT ON TABLE public.ipai_alert_rule IS
  'Alert rules evaluated by the scheduler (job kind alert_rules): kind, parameters, severity, destinations, cron schedule. Alerts are keyed rule:<name>:<subject>.';
COMMENT ON COLUMN public.ipai_alert_rule.kind IS
  'slo_burn | connector_failed | dq_failed | agent_errors | uptime; each has a runbook in docs/runbooks/<kind>.md.';
COMMENT ON COLUMN public.ipai_alert_rule.params IS
  'Kind parameters, validated by ipai_core.observability.alert_rules (unknown keys are refused).';
COMMENT ON COLUMN public.ipai_alert_rule.destinations IS
  'Names of ipai_alert_destination rows that get this rule''s messages; empty: every destination subscribed to alert events.';
COMMENT ON COLUMN public.ipai_alert_rule.schedule IS 'Cron expression (UTC) of the evaluations; every minute by default.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_alert_rule;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_alert_rule
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_alert_rule ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_alert_rule FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_alert_rule TO authenticated, service_role;
DROP POLICY IF EXISTS alert_rule_read ON public.ipai_alert_rule;
CREATE POLICY alert_rule_read ON public.ipai_alert_rule FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'data_engineer', 'auditor']));
DROP POLICY IF EXISTS alert_rule_write ON public.ipai_alert_rule;
CREATE POLICY alert_rule_write ON public.ipai_alert_rule FOR ALL TO authenticated
  USING (public.ipai_has_role('devops')) WITH CHECK (public.ipai_has_role('devops'));
DROP POLICY IF EXISTS alert_rule_service ON public.ipai_alert_rule;
CREATE POLICY alert_rule_service ON public.ipai_alert_rule FOR ALL TO service_role
  USING (true) WITH CHECK (true);

-- One rule per kind, on by default: with no destination configured they only record alerts.
INSERT INTO public.ipai_alert_rule (name, description, kind, params, severity) VALUES
  ('slo-burn', 'An SLO spends its error budget 14.4x (1 h) or 6x (6 h) too fast.',
   'slo_burn', '{"fast_burn": 14.4, "slow_burn": 6}', 'error'),
  ('connector-failed', 'A connector''s latest run failed.',
   'connector_failed', '{"consecutive": 1}', 'error'),
  ('dq-failed', 'Data quality checks of severity error are failing.',
   'dq_failed', '{"severity": "error", "min_checks": 1}', 'error'),
  ('agent-errors', 'An agent failed 5 or more calls within an hour.',
   'agent_errors', '{"threshold": 5, "window_minutes": 60}', 'warn'),
  ('workspace-down', 'The workspace failed 3 health probes in a row, or nobody probes it.',
   'uptime', '{"target": "workspace", "consecutive": 3, "stale_minutes": 10}', 'error')
ON CONFLICT (name) DO NOTHING;
