-- DevOps Health (issue 5): the CI status of each repository and the four DORA metrics week by
-- week, beside the per-repository summary in ipai_gold_devops.dora_summary. Windows are relative
-- to the synced data (a repository's own last run), never to the refresh time, so a figure does
-- not drift between two refreshes of the same data.

-- Latest completed run of the `CI` workflow on each repository's default branch, with the runs
-- and failures of the seven days that led up to it.
CREATE MATERIALIZED VIEW ipai_gold_devops.mv_ci_status AS
WITH ci AS (
    SELECT c.* FROM ipai_silver_devops.ci_runs c
      JOIN ipai_silver_devops.repositories r
        ON r.repository = c.repository AND c.head_branch = r.default_branch
     WHERE c.workflow = 'CI' AND c.status = 'completed'),
latest AS (
    SELECT DISTINCT ON (repository) repository, run_number, head_sha, conclusion, updated_at,
           duration_s
      FROM ci ORDER BY repository, updated_at DESC, run_number DESC)
SELECT r.repository, r.default_branch,
       l.conclusion AS last_conclusion, l.run_number AS last_run_number,
       l.head_sha AS last_head_sha, l.updated_at AS last_finished_at,
       round(l.duration_s::numeric, 1) AS last_duration_s,
       (SELECT count(*) FROM ci WHERE ci.repository = r.repository
           AND ci.updated_at > l.updated_at - interval '7 days') AS runs_last_7_days,
       (SELECT count(*) FROM ci WHERE ci.repository = r.repository
           AND ci.updated_at > l.updated_at - interval '7 days'
           AND ci.conclusion IN ('failure', 'timed_out', 'startup_failure'))
         AS failures_last_7_days
  FROM ipai_silver_devops.repositories r
  LEFT JOIN latest l USING (repository);
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_ci_status (repository);

-- The four DORA metrics per repository and week: production deployments (frequency), the
-- share of them that failed (change failure rate), the median lead time of the changes that
-- reached production that week, and the median time to restore of that week's failures.
CREATE MATERIALIZED VIEW ipai_gold_devops.mv_dora_weekly AS
WITH deploys AS (
    SELECT repository, date_trunc('week', created_at)::date AS week,
           count(*) FILTER (WHERE outcome IN ('success', 'failure', 'error')) AS deployments,
           count(*) FILTER (WHERE outcome IN ('failure', 'error')) AS failed_deployments
      FROM ipai_silver_devops.deployments WHERE environment = 'production'
     GROUP BY 1, 2),
lead AS (
    SELECT repository, date_trunc('week', deployed_at)::date AS week, count(*) AS changes,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_hours) AS lead_hours
      FROM ipai_gold_devops.mv_lead_time GROUP BY 1, 2),
restore AS (
    SELECT repository, date_trunc('week', failed_at)::date AS week,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY restore_hours) AS restore_hours
      FROM ipai_gold_devops.mv_incidents WHERE restored_at IS NOT NULL GROUP BY 1, 2),
weeks AS (
    SELECT repository, week FROM deploys
    UNION SELECT repository, week FROM lead
    UNION SELECT repository, week FROM restore)
SELECT w.repository, w.week,
       coalesce(d.deployments, 0) AS deployments,
       coalesce(d.failed_deployments, 0) AS failed_deployments,
       round(d.failed_deployments::numeric / nullif(d.deployments, 0), 4) AS change_failure_rate,
       coalesce(l.changes, 0) AS changes_deployed,
       round(l.lead_hours::numeric, 2) AS median_lead_time_hours,
       round(x.restore_hours::numeric, 2) AS median_time_to_restore_hours
  FROM weeks w
  LEFT JOIN deploys d USING (repository, week)
  LEFT JOIN lead l USING (repository, week)
  LEFT JOIN restore x USING (repository, week);
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_dora_weekly (repository, week);

REVOKE ALL ON ipai_gold_devops.mv_ci_status, ipai_gold_devops.mv_dora_weekly
  FROM PUBLIC, anon, authenticated;
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_ci_status IS 'Private store of gold.ci_status.';
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_dora_weekly IS 'Private store of gold.dora_weekly.';

-- Gold, served: the same guard as the other DevOps views.
CREATE VIEW ipai_gold_devops.ci_status WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_ci_status
 WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
CREATE VIEW ipai_gold_devops.dora_weekly WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_dora_weekly
 WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
GRANT SELECT ON ipai_gold_devops.ci_status, ipai_gold_devops.dora_weekly TO authenticated;

COMMENT ON VIEW ipai_gold_devops.ci_status IS
  'Gold: latest CI run on each repository''s default branch, with runs and failures in the 7 days before it.';
COMMENT ON VIEW ipai_gold_devops.dora_weekly IS
  'Gold: DORA metrics per repository and week: production deployments, change failure rate, median lead time, median time to restore.';
