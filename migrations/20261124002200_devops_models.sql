-- DevOps: the bronze tables the github connector loads (its streams under table_prefix
-- `github_`), silver views, and gold CI health, DORA metrics and Spec Kit coverage.
-- Bronze tables are owned by service_role so the sync engine can evolve them.

CREATE TABLE ipai_bronze_devops.github_repositories (
    id bigint,
    repository text,
    full_name text,
    name text,
    owner_login text,
    private boolean,
    visibility text,
    default_branch text,
    language text,
    description text,
    archived boolean,
    html_url text,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    pushed_at timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_devops.github_repositories IS 'Bronze: GitHub repositories as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_repositories');
ALTER TABLE ipai_bronze_devops.github_repositories OWNER TO service_role;

CREATE TABLE ipai_bronze_devops.github_commits (
    repository text,
    sha text,
    message text,
    author_login text,
    author_name text,
    author_date timestamp with time zone,
    committer_login text,
    committer_date timestamp with time zone,
    parent_shas jsonb,
    is_merge boolean,
    html_url text,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (repository, sha)
);
COMMENT ON TABLE ipai_bronze_devops.github_commits IS 'Bronze: GitHub commits as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_commits');
ALTER TABLE ipai_bronze_devops.github_commits OWNER TO service_role;

CREATE TABLE ipai_bronze_devops.github_pull_requests (
    id bigint,
    repository text,
    number bigint,
    state text,
    title text,
    user_login text,
    draft boolean,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    closed_at timestamp with time zone,
    merged_at timestamp with time zone,
    merge_commit_sha text,
    base_ref text,
    head_ref text,
    head_sha text,
    html_url text,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_devops.github_pull_requests IS 'Bronze: GitHub pull requests as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_pull_requests');
ALTER TABLE ipai_bronze_devops.github_pull_requests OWNER TO service_role;

CREATE TABLE ipai_bronze_devops.github_issues (
    id bigint,
    repository text,
    number bigint,
    state text,
    state_reason text,
    title text,
    user_login text,
    labels jsonb,
    comments bigint,
    is_pull_request boolean,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    closed_at timestamp with time zone,
    html_url text,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_devops.github_issues IS 'Bronze: GitHub issues as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_issues');
ALTER TABLE ipai_bronze_devops.github_issues OWNER TO service_role;

CREATE TABLE ipai_bronze_devops.github_workflow_runs (
    id bigint,
    repository text,
    workflow_id bigint,
    name text,
    run_number bigint,
    run_attempt bigint,
    event text,
    status text,
    conclusion text,
    head_branch text,
    head_sha text,
    actor_login text,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    run_started_at timestamp with time zone,
    html_url text,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_devops.github_workflow_runs IS 'Bronze: GitHub workflow runs as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_workflow_runs');
ALTER TABLE ipai_bronze_devops.github_workflow_runs OWNER TO service_role;

CREATE TABLE ipai_bronze_devops.github_deployments (
    id bigint,
    repository text,
    sha text,
    ref text,
    task text,
    environment text,
    description text,
    creator_login text,
    production_environment boolean,
    transient_environment boolean,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_devops.github_deployments IS 'Bronze: GitHub deployments as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_deployments');
ALTER TABLE ipai_bronze_devops.github_deployments OWNER TO service_role;

CREATE TABLE ipai_bronze_devops.github_deployment_statuses (
    id bigint,
    repository text,
    deployment_id bigint,
    state text,
    environment text,
    description text,
    creator_login text,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_devops.github_deployment_statuses IS 'Bronze: GitHub deployment statuses as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_deployment_statuses');
ALTER TABLE ipai_bronze_devops.github_deployment_statuses OWNER TO service_role;

CREATE TABLE ipai_bronze_devops.github_releases (
    id bigint,
    repository text,
    tag_name text,
    name text,
    target_commitish text,
    draft boolean,
    prerelease boolean,
    author_login text,
    created_at timestamp with time zone,
    published_at timestamp with time zone,
    html_url text,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_devops.github_releases IS 'Bronze: GitHub releases as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_releases');
ALTER TABLE ipai_bronze_devops.github_releases OWNER TO service_role;

CREATE TABLE ipai_bronze_devops.github_spec_files (
    repository text,
    path text,
    feature text,
    file text,
    exists boolean,
    sha text,
    size bigint,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (repository, path)
);
COMMENT ON TABLE ipai_bronze_devops.github_spec_files IS 'Bronze: GitHub spec files as synced by the github connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_devops.github_spec_files');
ALTER TABLE ipai_bronze_devops.github_spec_files OWNER TO service_role;

-- Silver: current rows; a deployment's outcome is its FIRST terminal status (GitHub later marks
-- superseded deployments `inactive`, which says nothing about whether they worked).
CREATE VIEW ipai_silver_devops.ci_runs WITH (security_invoker = true) AS
SELECT id, repository, name AS workflow, run_number, run_attempt, event, status, conclusion,
       head_branch, head_sha, created_at, run_started_at, updated_at,
       CASE WHEN status = 'completed'
            THEN extract(epoch FROM updated_at - coalesce(run_started_at, created_at)) END
         AS duration_s
  FROM ipai_bronze_devops.github_workflow_runs
 WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_devops.ci_runs IS 'Silver: workflow runs (latest attempt) with duration.';

CREATE VIEW ipai_silver_devops.deployments WITH (security_invoker = true) AS
SELECT d.id, d.repository, d.sha, d.environment, d.created_at, o.state AS outcome,
       o.created_at AS outcome_at
  FROM ipai_bronze_devops.github_deployments d
  LEFT JOIN LATERAL (
        SELECT s.state, s.created_at FROM ipai_bronze_devops.github_deployment_statuses s
         WHERE s.deployment_id = d.id AND NOT s._ipai_deleted
           AND s.state IN ('success', 'failure', 'error')
         ORDER BY s.created_at, s.id LIMIT 1) o ON true
 WHERE NOT d._ipai_deleted;
COMMENT ON VIEW ipai_silver_devops.deployments IS
  'Silver: deployments with their outcome (first success/failure/error status) and its time.';

CREATE VIEW ipai_silver_devops.pull_requests WITH (security_invoker = true) AS
SELECT id, repository, number, state, title, user_login, draft, created_at, merged_at, closed_at,
       merge_commit_sha, base_ref
  FROM ipai_bronze_devops.github_pull_requests
 WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_devops.pull_requests IS 'Silver: pull requests, current state.';

CREATE VIEW ipai_silver_devops.repositories WITH (security_invoker = true) AS
SELECT repository, full_name, default_branch, language, archived, created_at, pushed_at
  FROM ipai_bronze_devops.github_repositories
 WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_devops.repositories IS 'Silver: repositories.';

CREATE VIEW ipai_silver_devops.spec_files WITH (security_invoker = true) AS
SELECT repository, path, feature, file, exists
  FROM ipai_bronze_devops.github_spec_files
 WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_devops.spec_files IS
  'Silver: expected Spec Kit files (constitution, prd, plan, tasks) per feature and whether they exist.';

-- Gold, private materialized views.
CREATE MATERIALIZED VIEW ipai_gold_devops.mv_ci_weekly AS
SELECT repository, date_trunc('week', created_at)::date AS week,
       count(*) FILTER (WHERE conclusion IN ('success', 'failure', 'timed_out', 'startup_failure'))
         AS decided_runs,
       count(*) FILTER (WHERE conclusion = 'success') AS successful_runs,
       round(count(*) FILTER (WHERE conclusion = 'success')::numeric
             / nullif(count(*) FILTER (WHERE conclusion IN ('success', 'failure', 'timed_out',
                                                            'startup_failure')), 0), 4)
         AS success_rate,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s)::numeric, 1)
         AS median_duration_s
  FROM ipai_silver_devops.ci_runs
 WHERE workflow = 'CI' AND status = 'completed'
 GROUP BY 1, 2;
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_ci_weekly (repository, week);

CREATE MATERIALIZED VIEW ipai_gold_devops.mv_deployments_weekly AS
SELECT repository, environment, date_trunc('week', created_at)::date AS week,
       count(*) AS deployments,
       count(*) FILTER (WHERE outcome = 'success') AS successful,
       count(*) FILTER (WHERE outcome IN ('failure', 'error')) AS failed
  FROM ipai_silver_devops.deployments
 GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_deployments_weekly (repository, environment, week);

-- Lead time for changes: from a pull request's creation (its first commit, in squash-merge
-- workflows) to the first successful production deployment after it merged.
CREATE MATERIALIZED VIEW ipai_gold_devops.mv_lead_time AS
SELECT p.repository, p.number, p.created_at AS pr_created_at, p.merged_at,
       d.outcome_at AS deployed_at,
       round(extract(epoch FROM d.outcome_at - p.created_at)::numeric / 3600, 2) AS lead_time_hours
  FROM ipai_silver_devops.pull_requests p
  JOIN LATERAL (
        SELECT dep.outcome_at FROM ipai_silver_devops.deployments dep
         WHERE dep.repository = p.repository AND dep.environment = 'production'
           AND dep.outcome = 'success' AND dep.outcome_at >= p.merged_at
         ORDER BY dep.outcome_at LIMIT 1) d ON true
 WHERE p.merged_at IS NOT NULL;
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_lead_time (repository, number);

-- Failed production deployments and when production was next restored (time to restore).
CREATE MATERIALIZED VIEW ipai_gold_devops.mv_incidents AS
SELECT f.repository, f.id AS failed_deployment_id, f.outcome_at AS failed_at,
       r.outcome_at AS restored_at,
       round(extract(epoch FROM r.outcome_at - f.outcome_at)::numeric / 3600, 2) AS restore_hours
  FROM ipai_silver_devops.deployments f
  LEFT JOIN LATERAL (
        SELECT s.outcome_at FROM ipai_silver_devops.deployments s
         WHERE s.repository = f.repository AND s.environment = 'production'
           AND s.outcome = 'success' AND s.outcome_at > f.outcome_at
         ORDER BY s.outcome_at LIMIT 1) r ON true
 WHERE f.environment = 'production' AND f.outcome IN ('failure', 'error');
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_incidents (failed_deployment_id);

CREATE MATERIALIZED VIEW ipai_gold_devops.mv_spec_kit_coverage AS
SELECT r.repository, coalesce(f.feature, '') AS feature,
       count(f.path) AS expected_files,
       count(*) FILTER (WHERE f.exists) AS present_files,
       coalesce(round(avg(f.exists::int), 4), 0) AS coverage
  FROM ipai_silver_devops.repositories r
  LEFT JOIN ipai_silver_devops.spec_files f ON f.repository = r.repository
 GROUP BY r.repository, coalesce(f.feature, '');
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_spec_kit_coverage (repository, feature);

-- The four DORA metrics per repository over the synced period, with the DORA performance
-- level of each (thresholds of the DORA report: elite, high, medium, low).
CREATE MATERIALIZED VIEW ipai_gold_devops.mv_dora_summary AS
WITH prod AS (
    SELECT repository,
           count(*) FILTER (WHERE outcome IN ('success', 'failure', 'error')) AS deployments,
           count(*) FILTER (WHERE outcome IN ('failure', 'error')) AS failed_deployments,
           min(created_at) AS first_deployment_at, max(created_at) AS last_deployment_at
      FROM ipai_silver_devops.deployments WHERE environment = 'production'
     GROUP BY repository),
lead AS (
    SELECT repository, percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_hours)
             AS median_lead_time_hours
      FROM ipai_gold_devops.mv_lead_time GROUP BY repository),
restore AS (
    SELECT repository, percentile_cont(0.5) WITHIN GROUP (ORDER BY restore_hours)
             AS median_restore_hours
      FROM ipai_gold_devops.mv_incidents WHERE restored_at IS NOT NULL GROUP BY repository),
ci AS (
    SELECT repository, sum(successful_runs)::numeric / nullif(sum(decided_runs), 0)
             AS ci_success_rate
      FROM ipai_gold_devops.mv_ci_weekly GROUP BY repository),
spec AS (
    SELECT repository, coalesce(sum(present_files)::numeric / nullif(sum(expected_files), 0), 0)
             AS spec_kit_coverage
      FROM ipai_gold_devops.mv_spec_kit_coverage GROUP BY repository),
metrics AS (
    SELECT r.repository,
           coalesce(p.deployments, 0) AS production_deployments,
           round(coalesce(p.deployments, 0)
                 / greatest(1, extract(epoch FROM p.last_deployment_at - p.first_deployment_at)
                               / 604800)::numeric, 2) AS deployments_per_week,
           round(l.median_lead_time_hours::numeric, 2) AS median_lead_time_hours,
           round(p.failed_deployments::numeric / nullif(p.deployments, 0), 4)
             AS change_failure_rate,
           round(x.median_restore_hours::numeric, 2) AS median_time_to_restore_hours,
           round(c.ci_success_rate, 4) AS ci_success_rate,
           round(s.spec_kit_coverage, 4) AS spec_kit_coverage
      FROM ipai_silver_devops.repositories r
      LEFT JOIN prod p USING (repository) LEFT JOIN lead l USING (repository)
      LEFT JOIN restore x USING (repository) LEFT JOIN ci c USING (repository)
      LEFT JOIN spec s USING (repository))
SELECT m.*,
       CASE WHEN deployments_per_week >= 7 THEN 'elite' WHEN deployments_per_week >= 1 THEN 'high'
            WHEN deployments_per_week >= 0.25 THEN 'medium' ELSE 'low' END
         AS deployment_frequency_level,
       CASE WHEN median_lead_time_hours IS NULL THEN NULL
            WHEN median_lead_time_hours < 24 THEN 'elite' WHEN median_lead_time_hours < 168 THEN 'high'
            WHEN median_lead_time_hours < 720 THEN 'medium' ELSE 'low' END AS lead_time_level,
       CASE WHEN change_failure_rate IS NULL THEN NULL
            WHEN change_failure_rate <= 0.05 THEN 'elite' WHEN change_failure_rate <= 0.10 THEN 'high'
            WHEN change_failure_rate <= 0.15 THEN 'medium' ELSE 'low' END AS change_failure_level,
       CASE WHEN median_time_to_restore_hours IS NULL THEN NULL
            WHEN median_time_to_restore_hours < 1 THEN 'elite'
            WHEN median_time_to_restore_hours < 24 THEN 'high'
            WHEN median_time_to_restore_hours < 168 THEN 'medium' ELSE 'low' END AS restore_level
  FROM metrics m;
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_dora_summary (repository);

REVOKE ALL ON ipai_gold_devops.mv_ci_weekly, ipai_gold_devops.mv_deployments_weekly,
  ipai_gold_devops.mv_lead_time, ipai_gold_devops.mv_incidents,
  ipai_gold_devops.mv_spec_kit_coverage, ipai_gold_devops.mv_dora_summary
  FROM PUBLIC, anon, authenticated;

COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_ci_weekly IS 'Private store of gold.ci_weekly.';
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_deployments_weekly IS 'Private store of gold.deployments_weekly.';
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_lead_time IS 'Private store of gold.lead_time.';
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_incidents IS 'Private store of gold.incidents.';
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_spec_kit_coverage IS 'Private store of gold.spec_kit_coverage.';
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_dora_summary IS 'Private store of gold.dora_summary.';

-- Gold, served: guarded views for the devops and analyst roles (admins see everything).
CREATE VIEW ipai_gold_devops.ci_weekly WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_ci_weekly WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
CREATE VIEW ipai_gold_devops.deployments_weekly WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_deployments_weekly WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
CREATE VIEW ipai_gold_devops.lead_time WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_lead_time WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
CREATE VIEW ipai_gold_devops.incidents WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_incidents WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
CREATE VIEW ipai_gold_devops.spec_kit_coverage WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_spec_kit_coverage WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
CREATE VIEW ipai_gold_devops.dora_summary WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_dora_summary WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
GRANT SELECT ON ipai_gold_devops.ci_weekly, ipai_gold_devops.deployments_weekly,
  ipai_gold_devops.lead_time, ipai_gold_devops.incidents, ipai_gold_devops.spec_kit_coverage,
  ipai_gold_devops.dora_summary TO authenticated;

COMMENT ON VIEW ipai_gold_devops.ci_weekly IS
  'Gold: CI (workflow `CI`) runs decided, successful, success rate and median duration per repository and week.';
COMMENT ON VIEW ipai_gold_devops.deployments_weekly IS
  'Gold: deployments per repository, environment and week, with successes and failures.';
COMMENT ON VIEW ipai_gold_devops.lead_time IS
  'Gold: lead time for changes per merged pull request (PR opened → first successful production deployment after merge).';
COMMENT ON VIEW ipai_gold_devops.incidents IS
  'Gold: failed production deployments and time to restore (next successful production deployment).';
COMMENT ON VIEW ipai_gold_devops.spec_kit_coverage IS
  'Gold: Spec Kit files present per repository and feature (constitution, prd, plan, tasks).';
COMMENT ON VIEW ipai_gold_devops.dora_summary IS
  'Gold: the four DORA metrics per repository with performance levels, plus CI success rate and Spec Kit coverage.';
