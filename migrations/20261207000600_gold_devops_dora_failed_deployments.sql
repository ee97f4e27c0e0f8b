-- DORA summary with the failed production deployments behind each repository's change failure
-- rate, so the rate over several repositories can be pooled (failed ÷ all production
-- deployments, docs/metrics.md) instead of averaged over repositories. A materialized view's
-- columns cannot be changed in place: the served view and its store are dropped (without CASCADE,
-- so an unexpected dependant stops this migration rather than vanish) and created again with the
-- definition of 20261124002200 plus `failed_production_deployments`, the same guard, grants and
-- comments. Agent roles (their DDL event trigger does too, where installed) and ipai_bi get their
-- grants on the new view back at the end.

DROP VIEW ipai_gold_devops.dora_summary;
DROP MATERIALIZED VIEW ipai_gold_devops.mv_dora_summary;

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
           coalesce(p.failed_deployments, 0) AS failed_production_deployments,
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
REVOKE ALL ON ipai_gold_devops.mv_dora_summary FROM PUBLIC, anon, authenticated;
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_dora_summary IS 'Private store of gold.dora_summary.';

CREATE VIEW ipai_gold_devops.dora_summary WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_dora_summary WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
GRANT SELECT ON ipai_gold_devops.dora_summary TO authenticated;
COMMENT ON VIEW ipai_gold_devops.dora_summary IS
  'Gold: the four DORA metrics per repository with performance levels, plus CI success rate and Spec Kit coverage; production deployments and the failed ones, to pool the change failure rate over repositories.';

SELECT public.ipai_bi_sync();
SELECT public.ipai_agent_sync();
