-- The scheduler's queue and heartbeats (PRD R2.1, issue 3; readiness in issue 7).
--
-- `ipai scheduler` processes on any number of machines share these two tables. Each cron slot of
-- each scheduled job becomes at most one row of ipai_scheduled_run (UNIQUE kind + key + slot, so
-- two schedulers that compute the same slot insert one row), and exactly one scheduler claims a
-- queued row (SELECT … FOR UPDATE SKIP LOCKED, then status = 'running' in the same transaction).
-- A job kind names what runs: 'connector_run' today; alert evaluation and uptime probes later add
-- kinds without changing the table. Every live scheduler updates its heartbeat row each loop; a
-- running row whose scheduler stopped beating is put back in the queue by the others.

CREATE TABLE IF NOT EXISTS public.ipai_scheduled_run (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    job_kind TEXT NOT NULL,
    job_key TEXT NOT NULL,
    connector_id UUID REFERENCES public.ipai_connector_config(id) ON DELETE CASCADE,
    due_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_by TEXT,
    claimed_at TIMESTAMPTZ,
    run_id UUID REFERENCES public.ipai_connector_run(id) ON DELETE SET NULL,
    error TEXT,
    enqueued_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    CONSTRAINT scheduled_run_one_per_slot UNIQUE (job_kind, job_key, due_at),
    CONSTRAINT scheduled_run_kind_format CHECK (job_kind ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT scheduled_run_status
      CHECK (status IN ('queued', 'running', 'success', 'failed', 'skipped')),
    CONSTRAINT scheduled_run_attempts
      CHECK (max_attempts >= 1 AND attempt >= 0 AND attempt <= max_attempts),
    CONSTRAINT scheduled_run_connector
      CHECK (job_kind <> 'connector_run' OR (connector_id IS NOT NULL AND job_key = connector_id::text)),
    CONSTRAINT scheduled_run_claimed
      CHECK (status <> 'running' OR (claimed_by IS NOT NULL AND claimed_at IS NOT NULL)),
    CONSTRAINT scheduled_run_finished
      CHECK ((status IN ('success', 'failed', 'skipped')) = (finished_at IS NOT NULL))
);
-- Claiming: the queued rows whose attempt is due.
CREATE INDEX IF NOT EXISTS idx_scheduled_run_queued
  ON public.ipai_scheduled_run(next_attempt_at) WHERE status = 'queued';
-- Reclaiming, and "is this job already running?": the few running rows.
CREATE INDEX IF NOT EXISTS idx_scheduled_run_running
  ON public.ipai_scheduled_run(job_kind, job_key) WHERE status = 'running';
-- A connector's scheduled history, and the foreign keys' cascades.
CREATE INDEX IF NOT EXISTS idx_scheduled_run_connector
  ON public.ipai_scheduled_run(connector_id, due_at DESC) WHERE connector_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_scheduled_run_run
  ON public.ipai_scheduled_run(run_id) WHERE run_id IS NOT NULL;

COMMENT ON TABLE public.ipai_scheduled_run IS
  'Scheduler queue: one row per cron slot of a scheduled job (a connector run, …), claimed by exactly one scheduler, retried with backoff.';
COMMENT ON COLUMN public.ipai_scheduled_run.job_kind IS
  'What runs: connector_run (issue 3); later kinds such as alert evaluation or uptime probes.';
COMMENT ON COLUMN public.ipai_scheduled_run.job_key IS
  'Which one of its kind: for connector_run the connector id.';
COMMENT ON COLUMN public.ipai_scheduled_run.connector_id IS
  'The connector of a connector_run (removing the connector removes its queue rows).';
COMMENT ON COLUMN public.ipai_scheduled_run.due_at IS
  'The cron slot (UTC). After an outage only the latest missed slot is enqueued.';
COMMENT ON COLUMN public.ipai_scheduled_run.status IS
  'queued → running → success | failed (out of attempts, or not retryable) | skipped (superseded by a newer slot, or the job was disabled or removed).';
COMMENT ON COLUMN public.ipai_scheduled_run.attempt IS 'Attempts started so far (a claim starts one).';
COMMENT ON COLUMN public.ipai_scheduled_run.max_attempts IS
  'Attempts allowed, fixed when the slot was enqueued.';
COMMENT ON COLUMN public.ipai_scheduled_run.next_attempt_at IS
  'Earliest time a scheduler may claim the row: the slot, then now + backoff after a failure.';
COMMENT ON COLUMN public.ipai_scheduled_run.claimed_by IS
  'scheduler_id (see ipai_scheduler_heartbeat) running or last running the row.';
COMMENT ON COLUMN public.ipai_scheduled_run.claimed_at IS 'When the current or last attempt was claimed.';
COMMENT ON COLUMN public.ipai_scheduled_run.run_id IS 'The connector run of the last attempt, when one started.';
COMMENT ON COLUMN public.ipai_scheduled_run.error IS
  'Why the last attempt failed, was skipped or was reclaimed (secrets already scrubbed by the run).';
COMMENT ON COLUMN public.ipai_scheduled_run.enqueued_by IS 'scheduler_id that inserted the slot.';
COMMENT ON COLUMN public.ipai_scheduled_run.finished_at IS 'Set when the row reaches success, failed or skipped.';

CREATE TABLE IF NOT EXISTS public.ipai_scheduler_heartbeat (
    scheduler_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    version TEXT NOT NULL,
    job_kinds TEXT[] NOT NULL,
    workers INTEGER NOT NULL,
    interval_s DOUBLE PRECISION NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_beat_at TIMESTAMPTZ NOT NULL,
    stopped_at TIMESTAMPTZ,
    CONSTRAINT scheduler_heartbeat_workers CHECK (workers >= 1),
    CONSTRAINT scheduler_heartbeat_interval CHECK (interval_s > 0)
);
CREATE INDEX IF NOT EXISTS idx_scheduler_heartbeat_beat
  ON public.ipai_scheduler_heartbeat(last_beat_at DESC);

COMMENT ON TABLE public.ipai_scheduler_heartbeat IS
  'One row per scheduler process: who it is and when it last looped. Readiness checks and stale-claim recovery read it.';
COMMENT ON COLUMN public.ipai_scheduler_heartbeat.scheduler_id IS 'hostname:pid:random, unique per process start.';
COMMENT ON COLUMN public.ipai_scheduler_heartbeat.job_kinds IS 'The job kinds this scheduler claims.';
COMMENT ON COLUMN public.ipai_scheduler_heartbeat.workers IS 'Jobs it runs at the same time.';
COMMENT ON COLUMN public.ipai_scheduler_heartbeat.interval_s IS
  'Seconds between its loops; it counts as stopped after 2 × interval_s plus a grace without a beat.';
COMMENT ON COLUMN public.ipai_scheduler_heartbeat.last_beat_at IS 'Updated on every loop, and while draining at shutdown.';
COMMENT ON COLUMN public.ipai_scheduler_heartbeat.stopped_at IS
  'Set by a clean shutdown; NULL while running (or after a crash, when last_beat_at goes stale).';

ALTER TABLE public.ipai_scheduled_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ipai_scheduler_heartbeat ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_scheduled_run, public.ipai_scheduler_heartbeat
  FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_scheduled_run, public.ipai_scheduler_heartbeat TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_scheduled_run, public.ipai_scheduler_heartbeat
  TO service_role;

DROP POLICY IF EXISTS scheduled_run_read ON public.ipai_scheduled_run;
CREATE POLICY scheduled_run_read ON public.ipai_scheduled_run FOR SELECT TO authenticated
  USING (public.ipai_has_role('data_engineer'));
DROP POLICY IF EXISTS scheduled_run_service ON public.ipai_scheduled_run;
CREATE POLICY scheduled_run_service ON public.ipai_scheduled_run FOR ALL TO service_role
  USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS scheduler_heartbeat_read ON public.ipai_scheduler_heartbeat;
CREATE POLICY scheduler_heartbeat_read ON public.ipai_scheduler_heartbeat FOR SELECT TO authenticated
  USING (public.ipai_has_role('data_engineer'));
DROP POLICY IF EXISTS scheduler_heartbeat_service ON public.ipai_scheduler_heartbeat;
CREATE POLICY scheduler_heartbeat_service ON public.ipai_scheduler_heartbeat FOR ALL TO service_role
  USING (true) WITH CHECK (true);
