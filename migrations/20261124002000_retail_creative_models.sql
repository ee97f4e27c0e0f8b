-- Retail and creative: the standard bronze tables that file connectors load (streams
-- `transactions`, `campaigns` into ipai_bronze_retail; `creative_results` into
-- ipai_bronze_creative), their silver views, and gold KPIs.
-- Bronze tables are owned by service_role: the sync engine evolves them when sources drift.

CREATE TABLE ipai_bronze_retail.transactions (
    line_id bigint PRIMARY KEY,
    txn_id text,
    txn_ts timestamptz,
    store_code text,
    sku text,
    category text,
    quantity bigint,
    unit_price numeric(12,2),
    discount numeric(12,2),
    campaign_code text,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE ipai_bronze_retail.transactions IS
  'Bronze: point-of-sale transaction lines as loaded from files (one row per line).';

CREATE TABLE ipai_bronze_retail.campaigns (
    campaign_code text PRIMARY KEY,
    name text,
    channel text,
    start_date date,
    end_date date,
    budget numeric(14,2),
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE ipai_bronze_retail.campaigns IS 'Bronze: marketing campaigns as loaded from files.';

CREATE TABLE ipai_bronze_creative.creative_results (
    creative_id text NOT NULL,
    day date NOT NULL,
    campaign_code text,
    format text,
    impressions bigint,
    clicks bigint,
    conversions bigint,
    spend numeric(12,2),
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (creative_id, day)
);
COMMENT ON TABLE ipai_bronze_creative.creative_results IS
  'Bronze: daily delivery results per creative asset (impressions, clicks, conversions, spend).';

SELECT public.ipai_guard_bronze_table('ipai_bronze_retail.transactions');
SELECT public.ipai_guard_bronze_table('ipai_bronze_retail.campaigns');
SELECT public.ipai_guard_bronze_table('ipai_bronze_creative.creative_results');
ALTER TABLE ipai_bronze_retail.transactions OWNER TO service_role;
ALTER TABLE ipai_bronze_retail.campaigns OWNER TO service_role;
ALTER TABLE ipai_bronze_creative.creative_results OWNER TO service_role;
GRANT CREATE ON SCHEMA ipai_bronze_creative TO service_role;

-- Silver: current rows, deletions excluded, derived amounts. Views run as the caller.
CREATE VIEW ipai_silver_retail.transactions WITH (security_invoker = true) AS
SELECT line_id, txn_id, txn_ts, txn_ts::date AS txn_date, store_code, sku, category,
       quantity, unit_price, coalesce(discount, 0) AS discount,
       round(quantity * unit_price - coalesce(discount, 0), 2) AS net_amount,
       nullif(campaign_code, '') AS campaign_code
  FROM ipai_bronze_retail.transactions
 WHERE NOT _ipai_deleted AND quantity IS NOT NULL AND unit_price IS NOT NULL;
COMMENT ON VIEW ipai_silver_retail.transactions IS
  'Silver: current transaction lines with net amount (quantity × unit price − discount).';

CREATE VIEW ipai_silver_retail.campaigns WITH (security_invoker = true) AS
SELECT campaign_code, name, channel, start_date, end_date, coalesce(budget, 0) AS budget
  FROM ipai_bronze_retail.campaigns WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_retail.campaigns IS 'Silver: current campaigns.';

-- Gold: materialized for speed, private, served through guarded views.
CREATE MATERIALIZED VIEW ipai_gold_retail.mv_sales_daily AS
SELECT txn_date AS day, store_code, category,
       count(DISTINCT txn_id) AS transactions, sum(quantity) AS units,
       sum(net_amount) AS revenue, sum(discount) AS discounts
  FROM ipai_silver_retail.transactions
 GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX ON ipai_gold_retail.mv_sales_daily (day, store_code, category);

CREATE MATERIALIZED VIEW ipai_gold_retail.mv_campaign_performance AS
SELECT c.campaign_code, c.name, c.channel, c.start_date, c.end_date, c.budget,
       count(DISTINCT t.txn_id) AS transactions, coalesce(sum(t.net_amount), 0) AS revenue,
       CASE WHEN c.budget > 0
            THEN round((coalesce(sum(t.net_amount), 0) - c.budget) / c.budget, 4) END AS roi
  FROM ipai_silver_retail.campaigns c
  LEFT JOIN ipai_silver_retail.transactions t ON t.campaign_code = c.campaign_code
 GROUP BY c.campaign_code, c.name, c.channel, c.start_date, c.end_date, c.budget;
CREATE UNIQUE INDEX ON ipai_gold_retail.mv_campaign_performance (campaign_code);

CREATE MATERIALIZED VIEW ipai_gold_creative.mv_creative_effectiveness AS
SELECT creative_id, campaign_code, format,
       sum(impressions) AS impressions, sum(clicks) AS clicks, sum(conversions) AS conversions,
       sum(spend) AS spend,
       round(sum(clicks)::numeric / nullif(sum(impressions), 0), 4) AS ctr,
       round(sum(conversions)::numeric / nullif(sum(clicks), 0), 4) AS conversion_rate,
       round(sum(spend) / nullif(sum(conversions), 0), 2) AS cost_per_conversion
  FROM ipai_bronze_creative.creative_results
 WHERE NOT _ipai_deleted
 GROUP BY creative_id, campaign_code, format;
CREATE UNIQUE INDEX ON ipai_gold_creative.mv_creative_effectiveness (creative_id, campaign_code, format);

REVOKE ALL ON ipai_gold_retail.mv_sales_daily, ipai_gold_retail.mv_campaign_performance,
  ipai_gold_creative.mv_creative_effectiveness FROM PUBLIC, anon, authenticated;
GRANT SELECT ON ipai_gold_retail.mv_sales_daily, ipai_gold_retail.mv_campaign_performance,
  ipai_gold_creative.mv_creative_effectiveness TO service_role;

CREATE VIEW ipai_gold_retail.sales_daily WITH (security_barrier) AS
SELECT * FROM ipai_gold_retail.mv_sales_daily
 WHERE public.ipai_has_any_role(ARRAY['retail', 'analyst']);
CREATE VIEW ipai_gold_retail.campaign_performance WITH (security_barrier) AS
SELECT * FROM ipai_gold_retail.mv_campaign_performance
 WHERE public.ipai_has_any_role(ARRAY['retail', 'marketing', 'analyst']);
CREATE VIEW ipai_gold_creative.creative_effectiveness WITH (security_barrier) AS
SELECT * FROM ipai_gold_creative.mv_creative_effectiveness
 WHERE public.ipai_has_any_role(ARRAY['creative', 'marketing', 'analyst']);

COMMENT ON MATERIALIZED VIEW ipai_gold_retail.mv_sales_daily IS 'Private store of gold.sales_daily.';
COMMENT ON MATERIALIZED VIEW ipai_gold_retail.mv_campaign_performance IS 'Private store of gold.campaign_performance.';
COMMENT ON MATERIALIZED VIEW ipai_gold_creative.mv_creative_effectiveness IS 'Private store of gold.creative_effectiveness.';
COMMENT ON VIEW ipai_gold_retail.sales_daily IS
  'Gold: revenue, units, transactions and discounts per day, store and category (roles retail, analyst).';
COMMENT ON VIEW ipai_gold_retail.campaign_performance IS
  'Gold: attributed revenue and ROI per campaign (roles retail, marketing, analyst).';
COMMENT ON VIEW ipai_gold_creative.creative_effectiveness IS
  'Gold: CTR, conversion rate and cost per conversion per creative (roles creative, marketing, analyst).';
GRANT SELECT ON ipai_gold_retail.sales_daily, ipai_gold_retail.campaign_performance,
  ipai_gold_creative.creative_effectiveness TO authenticated;
