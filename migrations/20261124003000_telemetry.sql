-- Telemetry rolled up into Postgres (issue 7, PRD 2.1.5): the spans and per-minute metric points
-- that the OpenTelemetry SDK of every process exports when no OTLP collector is configured, so
-- the workspace can chart traces and metrics with nothing else running. Written only by the
-- exporters (service role, their own transactions, batched); read by admins, devops and
-- auditors. Old rows are removed by the scheduler's `telemetry_retention` job.

CREATE TABLE IF NOT EXISTS public.ipai_span (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'internal',
    service TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL DEFAULT 'unset',
    status_message TEXT,
    attributes JSONB NOT NULL DEFAULT '{}',
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (trace_id, span_id),
    CONSTRAINT span_trace_id_format CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    CONSTRAINT span_span_id_format CHECK (span_id ~ '^[0-9a-f]{16}$'),
    CONSTRAINT span_parent_format CHECK (parent_span_id IS NULL OR parent_span_id ~ '^[0-9a-f]{16}$'),
    CONSTRAINT span_kind_known CHECK (kind IN ('internal', 'server', 'client', 'producer', 'consumer')),
    CONSTRAINT span_status_known CHECK (status IN ('unset', 'ok', 'error')),
    CONSTRAINT span_duration_positive CHECK (duration_ms >= 0)
);
CREATE INDEX IF NOT EXISTS idx_span_started ON public.ipai_span(started_at DESC);
CREATE INDEX IF NOT EXISTS idx_span_name_started ON public.ipai_span(name, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_span_root ON public.ipai_span(started_at DESC) WHERE parent_span_id IS NULL;

COMMENT ON TABLE public.ipai_span IS
  'OpenTelemetry spans of every process (connector runs and streams, transformation refreshes, app page loads, agent calls and their SQL), kept for IPAI_SPAN_RETENTION_DAYS.';
COMMENT ON COLUMN public.ipai_span.trace_id IS 'W3C trace id (32 hex digits); the same id is on every log line of the trace.';
COMMENT ON COLUMN public.ipai_span.parent_span_id IS 'The enclosing span; NULL for the root of a trace.';
COMMENT ON COLUMN public.ipai_span.service IS 'The process that recorded it: cli, workspace, scheduler, mcp.';
COMMENT ON COLUMN public.ipai_span.status IS 'error when the work raised or reported a failure; status_message says why (scrubbed).';
COMMENT ON COLUMN public.ipai_span.attributes IS 'ipai.* attributes (connector, run_id, rows, view, app, agent, …), secrets scrubbed.';

CREATE TABLE IF NOT EXISTS public.ipai_metric_point (
    name TEXT NOT NULL,
    labels JSONB NOT NULL DEFAULT '{}',
    bucket TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    count BIGINT NOT NULL DEFAULT 0,
    sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    min DOUBLE PRECISION,
    max DOUBLE PRECISION,
    PRIMARY KEY (name, bucket, labels),
    CONSTRAINT metric_point_minute CHECK (bucket = date_trunc('minute', bucket)),
    CONSTRAINT metric_point_kind CHECK (kind IN ('sum', 'histogram')),
    CONSTRAINT metric_point_labels CHECK (jsonb_typeof(labels) = 'object')
);
CREATE INDEX IF NOT EXISTS idx_metric_point_bucket ON public.ipai_metric_point(bucket DESC);

COMMENT ON TABLE public.ipai_metric_point IS
  'OpenTelemetry metrics aggregated per minute and label set: rows, bytes, durations, errors, tokens, cost. Processes add into the same minute.';
COMMENT ON COLUMN public.ipai_metric_point.kind IS
  'sum: a counter, `sum` is the amount added in the minute; histogram: `count` observations with their sum, min and max.';
COMMENT ON COLUMN public.ipai_metric_point.bucket IS 'The minute (UTC) the points were exported in.';

ALTER TABLE public.ipai_span ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_metric_point ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_span, public.ipai_metric_point FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_span, public.ipai_metric_point TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_span, public.ipai_metric_point TO service_role;

DROP POLICY IF EXISTS span_read ON public.ipai_span;
CREATE POLICY span_read ON public.ipai_span FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'auditor']));
DROP POLICY IF EXISTS span_service ON public.ipai_span;
CREATE POLICY span_service ON public.ipai_span FOR ALL TO service_role USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS metric_point_read ON public.ipai_metric_point;
CREATE POLICY metric_point_read ON public.ipai_metric_point FOR SELECT TO authenticated
  USING (public.ipai_has_any_role(ARRAY['devops', 'auditor']));
DROP POLICY IF EXISTS metric_point_service ON public.ipai_metric_point;
CREATE POLICY metric_point_service ON public.ipai_metric_point FOR ALL TO service_role
  USING (true) WITH CHECK (true);
