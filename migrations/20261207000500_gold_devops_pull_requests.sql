-- Gold DevOps pull requests: what is open, merged or closed unmerged, by repository and author,
-- and how long merging takes (docs/metrics.md). One row per pull request of
-- ipai_silver_devops.pull_requests, in its current GitHub state (`open` or `closed`; a merged
-- pull request is closed with `merged_at` set). `hours_to_merge` runs from creation to merge,
-- NULL for a pull request not merged. Served like the other DevOps views: a private
-- materialized view behind a view for the devops and analyst roles (admins see everything).

CREATE MATERIALIZED VIEW ipai_gold_devops.mv_pull_requests AS
SELECT repository, number, title, user_login AS author, state, merged_at IS NOT NULL AS is_merged,
       draft, created_at, merged_at, closed_at,
       extract(epoch FROM merged_at - created_at) / 3600 AS hours_to_merge
  FROM ipai_silver_devops.pull_requests;
CREATE UNIQUE INDEX ON ipai_gold_devops.mv_pull_requests (repository, number);
REVOKE ALL ON ipai_gold_devops.mv_pull_requests FROM PUBLIC, anon, authenticated;
COMMENT ON MATERIALIZED VIEW ipai_gold_devops.mv_pull_requests IS 'Private store of gold.pull_requests.';

CREATE VIEW ipai_gold_devops.pull_requests WITH (security_barrier) AS
SELECT * FROM ipai_gold_devops.mv_pull_requests
 WHERE public.ipai_has_any_role(ARRAY['devops', 'analyst']);
GRANT SELECT ON ipai_gold_devops.pull_requests TO authenticated;
COMMENT ON VIEW ipai_gold_devops.pull_requests IS
  'Gold: pull requests per repository — number, title, author, state (open/closed), merged or not, draft, created/merged/closed times and hours to merge.';

SELECT public.ipai_bi_sync();
