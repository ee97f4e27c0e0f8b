-- The lakehouse layers (PRD R1.1): bronze = raw as ingested, silver = cleaned and typed,
-- gold = analytic models, platinum = ML features and vectors. One schema per layer and domain.
-- Anonymous users get nothing; signed-in users may look inside, and RLS decides which rows.

CREATE SCHEMA IF NOT EXISTS ipai_bronze_core;
CREATE SCHEMA IF NOT EXISTS ipai_silver_core;
CREATE SCHEMA IF NOT EXISTS ipai_gold_core;
CREATE SCHEMA IF NOT EXISTS ipai_platinum_core;
CREATE SCHEMA IF NOT EXISTS ipai_bronze_erp;
CREATE SCHEMA IF NOT EXISTS ipai_silver_erp;
CREATE SCHEMA IF NOT EXISTS ipai_gold_erp;
CREATE SCHEMA IF NOT EXISTS ipai_platinum_erp;
CREATE SCHEMA IF NOT EXISTS ipai_bronze_devops;
CREATE SCHEMA IF NOT EXISTS ipai_silver_devops;
CREATE SCHEMA IF NOT EXISTS ipai_gold_devops;
CREATE SCHEMA IF NOT EXISTS ipai_bronze_retail;
CREATE SCHEMA IF NOT EXISTS ipai_silver_retail;
CREATE SCHEMA IF NOT EXISTS ipai_gold_retail;
CREATE SCHEMA IF NOT EXISTS ipai_bronze_creative;
CREATE SCHEMA IF NOT EXISTS ipai_gold_creative;

COMMENT ON SCHEMA ipai_bronze_core IS 'Bronze, shared: raw data as ingested by connectors, with sync metadata columns.';
COMMENT ON SCHEMA ipai_silver_core IS 'Silver, shared: cleaned, typed and deduplicated entities.';
COMMENT ON SCHEMA ipai_gold_core IS 'Gold, shared: analytic views and cross-domain metrics.';
COMMENT ON SCHEMA ipai_platinum_core IS 'Platinum, shared: AI feature sets and vector embeddings.';
COMMENT ON SCHEMA ipai_bronze_erp IS 'Bronze, ERP: raw Odoo CE records (moves, lines, accounts, partners, projects).';
COMMENT ON SCHEMA ipai_silver_erp IS 'Silver, ERP: current version of each Odoo record, typed, deletions excluded.';
COMMENT ON SCHEMA ipai_gold_erp IS 'Gold, ERP: P&L, balance sheet, cash flow, aging and open items, scoped by company.';
COMMENT ON SCHEMA ipai_platinum_erp IS 'Platinum, ERP: finance features (partner payment behaviour) and embeddings.';
COMMENT ON SCHEMA ipai_bronze_devops IS 'Bronze, DevOps: raw GitHub repositories, commits, PRs, workflow runs, deployments, events.';
COMMENT ON SCHEMA ipai_silver_devops IS 'Silver, DevOps: normalised repositories, changes, CI runs and deployments.';
COMMENT ON SCHEMA ipai_gold_devops IS 'Gold, DevOps: CI health, DORA metrics and Spec Kit coverage.';
COMMENT ON SCHEMA ipai_bronze_retail IS 'Bronze, retail: raw transactions and campaigns from files.';
COMMENT ON SCHEMA ipai_silver_retail IS 'Silver, retail: cleaned transactions and campaigns.';
COMMENT ON SCHEMA ipai_gold_retail IS 'Gold, retail: sales and promotion KPIs.';
COMMENT ON SCHEMA ipai_bronze_creative IS 'Bronze, creative: raw creative assets and campaign results.';
COMMENT ON SCHEMA ipai_gold_creative IS 'Gold, creative: creative effectiveness KPIs.';

DO $$
DECLARE
  s text;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname ~ '^ipai_(bronze|silver|gold|platinum)_'
  LOOP
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC, anon', s);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO authenticated, service_role', s);
    -- Tables created later in these schemas: readable by signed-in users (RLS filters rows),
    -- fully usable by the service role (connectors, transformations).
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO authenticated', s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT ALL ON TABLES TO service_role', s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO service_role', s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM anon', s);
  END LOOP;
END
$$;
