-- Webhook events: the landing table the workspace's receiver (`POST /api/events/{source}`)
-- writes before it answers 2xx, and one `events` connector per source path.
-- Pushed rows carry no run id; an events connector's run later copies its source's rows into
-- `<target_schema>.<source>_events`. Owned by service_role, like every bronze table.

CREATE TABLE ipai_bronze_core.webhook_events (
    source text NOT NULL,
    delivery_id text NOT NULL,
    line_no integer NOT NULL,
    event_type text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}',
    body_sha256 text NOT NULL,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (source, delivery_id, line_no),
    CONSTRAINT webhook_events_line_no CHECK (line_no >= 0),
    CONSTRAINT webhook_events_body_sha256 CHECK (body_sha256 ~ '^[0-9a-f]{64}$')
);
CREATE INDEX webhook_events_received ON ipai_bronze_core.webhook_events (source, received_at);

COMMENT ON TABLE ipai_bronze_core.webhook_events IS
  'Bronze: webhook deliveries and JSON Lines batches as received, signature verified, one row per event (deduplicated by source, delivery id and line).';
COMMENT ON COLUMN ipai_bronze_core.webhook_events.source IS
  'The `{source}` of POST /api/events/{source}: the `source` of an events connector.';
COMMENT ON COLUMN ipai_bronze_core.webhook_events.delivery_id IS
  'X-GitHub-Delivery or X-IPAI-Delivery; `sha256:<body hash>` when the sender gave none. A replay is stored once.';
COMMENT ON COLUMN ipai_bronze_core.webhook_events.line_no IS
  'Line of a JSON Lines batch (from 1); 0 for a single JSON event.';
COMMENT ON COLUMN ipai_bronze_core.webhook_events.event_type IS
  'X-GitHub-Event or X-IPAI-Event; else the event''s own string `type`; else `event`.';
COMMENT ON COLUMN ipai_bronze_core.webhook_events.headers IS
  'A safe subset of the request headers (content type, user agent, GitHub event, delivery and hook ids); never signatures or credentials.';
COMMENT ON COLUMN ipai_bronze_core.webhook_events.body_sha256 IS
  'SHA-256 (hex) of the whole request body the event came in.';

SELECT public.ipai_guard_bronze_table('ipai_bronze_core.webhook_events');
ALTER TABLE ipai_bronze_core.webhook_events OWNER TO service_role;

-- A source path names one events connector: the receiver must know whose secret to check.
CREATE UNIQUE INDEX ipai_connector_config_events_source
    ON public.ipai_connector_config ((config ->> 'source'))
 WHERE connector_type = 'events';
COMMENT ON INDEX public.ipai_connector_config_events_source IS
  'At most one events connector per webhook source path (/api/events/{source}).';
