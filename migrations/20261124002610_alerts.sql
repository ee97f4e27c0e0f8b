-- Alerts and outgoing webhooks (PRD 4.1.6; issues 5, 6 and 7).
--
--   ipai_alert              one incident: fires once, is seen again while firing, resolves once
--   ipai_alert_event        what is announced: alert.firing / alert.resolved, and connector and
--                           transformation runs finished / failed
--   ipai_alert_destination  where to announce it (Slack, Mattermost, n8n, any JSON endpoint), and
--                           which event types it subscribes to
--   ipai_alert_delivery     one row per delivery attempt of an event to a destination: the outbox
--                           the scheduler's alert_delivery job drains, retried with backoff
--
-- Events and their pending deliveries are written in the same transaction as the change they
-- announce; nothing on a connector's path waits for a destination. Only the service role writes.

CREATE TABLE IF NOT EXISTS public.ipai_alert_destination (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    url TEXT,
    url_secret_ref TEXT,
    auth TEXT NOT NULL DEFAULT 'none',
    secret_ref TEXT,
    event_types TEXT[] NOT NULL DEFAULT ARRAY['alert.firing', 'alert.resolved'],
    min_severity TEXT NOT NULL DEFAULT 'info',
    enabled BOOLEAN NOT NULL DEFAULT true,
    created_by UUID DEFAULT auth.uid(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT alert_destination_name_format
      CHECK (name ~ '^[a-z0-9][a-z0-9_.-]*$' AND length(name) <= 80),
    CONSTRAINT alert_destination_format CHECK (format IN ('slack', 'mattermost', 'n8n', 'generic')),
    CONSTRAINT alert_destination_one_url CHECK ((url IS NULL) <> (url_secret_ref IS NULL)),
    CONSTRAINT alert_destination_url_scheme CHECK (url IS NULL OR url ~ '^https?://'),
    CONSTRAINT alert_destination_auth CHECK (auth IN ('none', 'hmac', 'bearer')),
    CONSTRAINT alert_destination_secret CHECK ((auth = 'none') = (secret_ref IS NULL)),
    CONSTRAINT alert_destination_event_types CHECK (
      cardinality(event_types) > 0 AND event_types <@ ARRAY[
        'alert.firing', 'alert.resolved', 'connector_run.finished', 'connector_run.failed',
        'transform_run.finished', 'transform_run.failed']::text[]),
    CONSTRAINT alert_destination_min_severity CHECK (min_severity IN ('info', 'warn', 'error'))
);
COMMENT ON TABLE public.ipai_alert_destination IS
  'Webhook destinations of alerts and run events: payload format, URL (or its vault reference), optional signing secret or bearer token (vault reference), subscribed event types.';
COMMENT ON COLUMN public.ipai_alert_destination.format IS
  'slack ({"text", "blocks"}), mattermost ({"text", "username"}), n8n or generic (the full event as JSON).';
COMMENT ON COLUMN public.ipai_alert_destination.url IS 'Endpoint URL, when it holds no secret.';
COMMENT ON COLUMN public.ipai_alert_destination.url_secret_ref IS
  'Vault secret holding the URL, for URLs that are credentials themselves (Slack and Mattermost incoming webhooks).';
COMMENT ON COLUMN public.ipai_alert_destination.auth IS
  'none; hmac (X-IPAI-Timestamp and X-IPAI-Signature: sha256 HMAC of "<timestamp>.<body>"); bearer (Authorization header).';
COMMENT ON COLUMN public.ipai_alert_destination.secret_ref IS 'Vault secret of the HMAC key or bearer token; never the value.';
COMMENT ON COLUMN public.ipai_alert_destination.event_types IS
  'Subscribed events: alert.firing, alert.resolved, connector_run.finished, connector_run.failed, transform_run.finished, transform_run.failed.';
COMMENT ON COLUMN public.ipai_alert_destination.min_severity IS 'Events below this severity (info < warn < error) are not sent here.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_alert_destination;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_alert_destination
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

CREATE TABLE IF NOT EXISTS public.ipai_alert (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    key TEXT NOT NULL,
    source TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'firing',
    summary TEXT NOT NULL,
    details JSONB NOT NULL DEFAULT '{}',
    occurrences INTEGER NOT NULL DEFAULT 1,
    first_fired_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at TIMESTAMPTZ,
    CONSTRAINT alert_severity CHECK (severity IN ('warn', 'error')),
    CONSTRAINT alert_state CHECK (state IN ('firing', 'resolved')),
    CONSTRAINT alert_resolved CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)),
    CONSTRAINT alert_occurrences CHECK (occurrences >= 1)
);
-- Deduplication: at most one firing alert per key; a later failure after it resolved is a new one.
CREATE UNIQUE INDEX IF NOT EXISTS ipai_alert_one_firing_per_key
  ON public.ipai_alert(key) WHERE state = 'firing';
CREATE INDEX IF NOT EXISTS idx_alert_key ON public.ipai_alert(key, first_fired_at DESC);

COMMENT ON TABLE public.ipai_alert IS
  'Alerts: one row per incident, deduplicated by key while firing (one message, not one per failing run), resolved once with a resolve message.';
COMMENT ON COLUMN public.ipai_alert.key IS 'Deduplication key, e.g. dq:<check name>.';
COMMENT ON COLUMN public.ipai_alert.source IS 'What raised it: dq:<check name>, or a rule name (issue 7).';
COMMENT ON COLUMN public.ipai_alert.summary IS 'One line: the latest description of the problem.';
COMMENT ON COLUMN public.ipai_alert.details IS 'The latest observation (e.g. the failing check''s observed values).';
COMMENT ON COLUMN public.ipai_alert.occurrences IS 'How many times the condition was seen while firing.';
COMMENT ON COLUMN public.ipai_alert.last_seen_at IS 'Last time the condition was seen while firing.';

CREATE TABLE IF NOT EXISTS public.ipai_alert_event (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    alert_id UUID REFERENCES public.ipai_alert(id) ON DELETE CASCADE,
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT alert_event_type CHECK (event_type IN (
      'alert.firing', 'alert.resolved', 'connector_run.finished', 'connector_run.failed',
      'transform_run.finished', 'transform_run.failed')),
    CONSTRAINT alert_event_severity CHECK (severity IN ('info', 'warn', 'error')),
    CONSTRAINT alert_event_alert CHECK ((event_type LIKE 'alert.%') = (alert_id IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS idx_alert_event_created ON public.ipai_alert_event(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_alert_event_alert ON public.ipai_alert_event(alert_id) WHERE alert_id IS NOT NULL;

COMMENT ON TABLE public.ipai_alert_event IS
  'Outgoing events: alert firing/resolved (always kept), connector and transformation runs finished/failed (kept only when a destination subscribes).';
COMMENT ON COLUMN public.ipai_alert_event.payload IS
  'The full event as n8n and generic destinations receive it: id, type, severity, occurred_at, summary, alert, data.';

CREATE TABLE IF NOT EXISTS public.ipai_alert_delivery (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id UUID NOT NULL REFERENCES public.ipai_alert_event(id) ON DELETE CASCADE,
    destination_id UUID NOT NULL REFERENCES public.ipai_alert_destination(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'pending',
    due_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempted_at TIMESTAMPTZ,
    http_status INTEGER,
    error TEXT,
    duration_ms INTEGER,
    CONSTRAINT alert_delivery_one_row_per_attempt UNIQUE (event_id, destination_id, attempt),
    CONSTRAINT alert_delivery_attempt CHECK (attempt >= 1),
    CONSTRAINT alert_delivery_status
      CHECK (status IN ('pending', 'sending', 'delivered', 'retrying', 'failed')),
    CONSTRAINT alert_delivery_attempted CHECK (status = 'pending' OR attempted_at IS NOT NULL)
);
-- The outbox: attempts that are due or in flight.
CREATE INDEX IF NOT EXISTS idx_alert_delivery_due
  ON public.ipai_alert_delivery(due_at) WHERE status IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS idx_alert_delivery_event ON public.ipai_alert_delivery(event_id);
CREATE INDEX IF NOT EXISTS idx_alert_delivery_destination
  ON public.ipai_alert_delivery(destination_id, attempted_at DESC);

COMMENT ON TABLE public.ipai_alert_delivery IS
  'Every delivery attempt of an event to a destination: pending → sending → delivered, retrying (a later attempt follows) or failed (the last one). Secrets are scrubbed from errors.';
COMMENT ON COLUMN public.ipai_alert_delivery.attempt IS 'Attempt number (1 for the first try).';
COMMENT ON COLUMN public.ipai_alert_delivery.due_at IS 'Earliest time the attempt may be sent (now, then now + backoff).';
COMMENT ON COLUMN public.ipai_alert_delivery.http_status IS 'The destination''s HTTP status, when it answered.';
COMMENT ON COLUMN public.ipai_alert_delivery.error IS 'Why the attempt failed (no URL or secret is ever quoted).';

ALTER TABLE public.ipai_alert_destination ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_alert ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_alert_event ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_alert_delivery ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_alert_destination, public.ipai_alert, public.ipai_alert_event,
  public.ipai_alert_delivery FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_alert_destination, public.ipai_alert, public.ipai_alert_event,
  public.ipai_alert_delivery TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_alert_destination, public.ipai_alert,
  public.ipai_alert_event, public.ipai_alert_delivery TO service_role;

-- Operators (admin, devops, data engineers) see everything; auditors also see the alerts and
-- their events (the Data Quality Monitor shows firing alerts to them), not where they are sent.
DROP POLICY IF EXISTS alert_destination_read ON public.ipai_alert_destination;
CREATE POLICY alert_destination_read ON public.ipai_alert_destination FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'data_engineer']));
DROP POLICY IF EXISTS alert_destination_service ON public.ipai_alert_destination;
CREATE POLICY alert_destination_service ON public.ipai_alert_destination FOR ALL TO service_role
  USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS alert_read ON public.ipai_alert;
CREATE POLICY alert_read ON public.ipai_alert FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'data_engineer', 'auditor']));
DROP POLICY IF EXISTS alert_service ON public.ipai_alert;
CREATE POLICY alert_service ON public.ipai_alert FOR ALL TO service_role
  USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS alert_event_read ON public.ipai_alert_event;
CREATE POLICY alert_event_read ON public.ipai_alert_event FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'data_engineer', 'auditor']));
DROP POLICY IF EXISTS alert_event_service ON public.ipai_alert_event;
CREATE POLICY alert_event_service ON public.ipai_alert_event FOR ALL TO service_role
  USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS alert_delivery_read ON public.ipai_alert_delivery;
CREATE POLICY alert_delivery_read ON public.ipai_alert_delivery FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'data_engineer']));
DROP POLICY IF EXISTS alert_delivery_service ON public.ipai_alert_delivery;
CREATE POLICY alert_delivery_service ON public.ipai_alert_delivery FOR ALL TO service_role
  USING (true) WITH CHECK (true);
