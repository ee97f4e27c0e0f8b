-- ERP (Odoo CE): the bronze tables the odoo connector loads, silver views, and gold finance:
-- profit & loss, balance sheet (monthly and at any date), cash flow, receivables/payables aging
-- and open items. Gold is scoped by company: `ipai_company_allowed(company_id)`.

CREATE TABLE ipai_bronze_erp.res_company (
    id bigint,
    name text,
    currency_id bigint,
    currency_name text,
    partner_id bigint,
    partner_name text,
    country_id bigint,
    country_name text,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.res_company IS 'Bronze: Odoo res.company records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.res_company');
ALTER TABLE ipai_bronze_erp.res_company OWNER TO service_role;

CREATE TABLE ipai_bronze_erp.res_partner (
    id bigint,
    name text,
    ref text,
    is_company boolean,
    parent_id bigint,
    parent_name text,
    customer_rank bigint,
    supplier_rank bigint,
    email text,
    vat text,
    city text,
    country_id bigint,
    country_name text,
    company_id bigint,
    company_name text,
    active boolean,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.res_partner IS 'Bronze: Odoo res.partner records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.res_partner');
ALTER TABLE ipai_bronze_erp.res_partner OWNER TO service_role;

CREATE TABLE ipai_bronze_erp.account_account (
    id bigint,
    code text,
    name text,
    account_type text,
    internal_group text,
    reconcile boolean,
    deprecated boolean,
    currency_id bigint,
    currency_name text,
    company_id bigint,
    company_name text,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.account_account IS 'Bronze: Odoo account.account records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.account_account');
ALTER TABLE ipai_bronze_erp.account_account OWNER TO service_role;

CREATE TABLE ipai_bronze_erp.account_journal (
    id bigint,
    name text,
    code text,
    type text,
    default_account_id bigint,
    default_account_name text,
    currency_id bigint,
    currency_name text,
    company_id bigint,
    company_name text,
    active boolean,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.account_journal IS 'Bronze: Odoo account.journal records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.account_journal');
ALTER TABLE ipai_bronze_erp.account_journal OWNER TO service_role;

CREATE TABLE ipai_bronze_erp.account_move (
    id bigint,
    name text,
    ref text,
    move_type text,
    state text,
    payment_state text,
    date date,
    invoice_date date,
    invoice_date_due date,
    partner_id bigint,
    partner_name text,
    journal_id bigint,
    journal_name text,
    company_id bigint,
    company_name text,
    currency_id bigint,
    currency_name text,
    amount_untaxed numeric(20,4),
    amount_tax numeric(20,4),
    amount_total numeric(20,4),
    amount_residual numeric(20,4),
    amount_untaxed_signed numeric(20,4),
    amount_total_signed numeric(20,4),
    amount_residual_signed numeric(20,4),
    reversed_entry_id bigint,
    reversed_entry_name text,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.account_move IS 'Bronze: Odoo account.move records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.account_move');
ALTER TABLE ipai_bronze_erp.account_move OWNER TO service_role;

CREATE TABLE ipai_bronze_erp.account_move_line (
    id bigint,
    move_id bigint,
    move_name text,
    parent_state text,
    date date,
    date_maturity date,
    account_id bigint,
    account_name text,
    partner_id bigint,
    partner_name text,
    journal_id bigint,
    journal_name text,
    company_id bigint,
    company_name text,
    currency_id bigint,
    currency_name text,
    name text,
    ref text,
    display_type text,
    debit numeric(20,4),
    credit numeric(20,4),
    balance numeric(20,4),
    amount_currency numeric(20,4),
    amount_residual numeric(20,4),
    reconciled boolean,
    full_reconcile_id bigint,
    full_reconcile_name text,
    matching_number text,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.account_move_line IS 'Bronze: Odoo account.move.line records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.account_move_line');
ALTER TABLE ipai_bronze_erp.account_move_line OWNER TO service_role;

CREATE TABLE ipai_bronze_erp.project_project (
    id bigint,
    name text,
    partner_id bigint,
    partner_name text,
    user_id bigint,
    user_name text,
    company_id bigint,
    company_name text,
    date_start date,
    date date,
    allocated_hours double precision,
    active boolean,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.project_project IS 'Bronze: Odoo project.project records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.project_project');
ALTER TABLE ipai_bronze_erp.project_project OWNER TO service_role;

CREATE TABLE ipai_bronze_erp.project_task (
    id bigint,
    name text,
    project_id bigint,
    project_name text,
    stage_id bigint,
    stage_name text,
    state text,
    user_ids text,
    tag_ids text,
    partner_id bigint,
    partner_name text,
    company_id bigint,
    company_name text,
    priority text,
    date_deadline timestamp with time zone,
    date_assign timestamp with time zone,
    date_end timestamp with time zone,
    date_last_stage_update timestamp with time zone,
    allocated_hours double precision,
    active boolean,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.project_task IS 'Bronze: Odoo project.task records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.project_task');
ALTER TABLE ipai_bronze_erp.project_task OWNER TO service_role;

-- Company scoping: admins see every company; finance and auditor roles see every company, or
-- only those listed in the JWT's app_metadata.company_ids when that claim is present.
CREATE OR REPLACE FUNCTION public.ipai_company_allowed(p_company bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT public.ipai_has_role('admin')
      OR (public.ipai_has_any_role(ARRAY['finance', 'auditor'])
          AND (NOT coalesce(auth.jwt() -> 'app_metadata' ? 'company_ids', false)
               OR p_company IN (SELECT jsonb_array_elements_text(
                                  auth.jwt() -> 'app_metadata' -> 'company_ids')::bigint)))
$$;
COMMENT ON FUNCTION public.ipai_company_allowed(bigint) IS
  'True when the request may see this company''s finance data (admin; finance/auditor, optionally limited by app_metadata.company_ids).';
REVOKE ALL ON FUNCTION public.ipai_company_allowed(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_company_allowed(bigint) TO anon, authenticated, service_role;

-- Silver: current records; posted journal items only; account sections from Odoo's account types.
CREATE VIEW ipai_silver_erp.accounts WITH (security_invoker = true) AS
SELECT id, company_id, code, name, account_type, internal_group,
       CASE WHEN account_type LIKE 'asset%' THEN 'asset'
            WHEN account_type LIKE 'liability%' THEN 'liability'
            WHEN account_type LIKE 'equity%' THEN 'equity'
            WHEN account_type LIKE 'income%' THEN 'income'
            WHEN account_type LIKE 'expense%' THEN 'expense'
            ELSE 'off_balance' END AS section
  FROM ipai_bronze_erp.account_account WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_erp.accounts IS 'Silver: chart of accounts with its balance-sheet / P&L section.';

CREATE VIEW ipai_silver_erp.companies WITH (security_invoker = true) AS
SELECT id AS company_id, name AS company_name, currency_name
  FROM ipai_bronze_erp.res_company WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_erp.companies IS 'Silver: companies.';

CREATE VIEW ipai_silver_erp.partners WITH (security_invoker = true) AS
SELECT id AS partner_id, name AS partner_name, ref, is_company, customer_rank, supplier_rank,
       email, vat, city, country_name, company_id
  FROM ipai_bronze_erp.res_partner WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_erp.partners IS 'Silver: customers and vendors.';

CREATE VIEW ipai_silver_erp.moves WITH (security_invoker = true) AS
SELECT id AS move_id, name, ref, move_type, state, payment_state, date, invoice_date,
       invoice_date_due, partner_id, partner_name, journal_id, journal_name, company_id,
       amount_untaxed, amount_tax, amount_total, amount_residual
  FROM ipai_bronze_erp.account_move WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_erp.moves IS 'Silver: journal entries, invoices and bills (all states).';

CREATE VIEW ipai_silver_erp.journal_items WITH (security_invoker = true) AS
SELECT l.id AS line_id, l.move_id, l.move_name, l.date, l.date_maturity, l.account_id,
       a.code AS account_code, a.name AS account_name, a.account_type, a.section,
       l.partner_id, l.partner_name, l.journal_id, l.journal_name, l.company_id,
       l.debit, l.credit, l.balance, l.amount_residual, l.reconciled, l.name AS label, l.ref
  FROM ipai_bronze_erp.account_move_line l
  JOIN ipai_silver_erp.accounts a ON a.id = l.account_id
 WHERE NOT l._ipai_deleted AND l.parent_state = 'posted';
COMMENT ON VIEW ipai_silver_erp.journal_items IS
  'Silver: posted journal items with their account section (drafts and cancelled entries excluded).';

CREATE VIEW ipai_silver_erp.projects WITH (security_invoker = true) AS
SELECT id AS project_id, name, partner_name, user_name, company_id, date_start, date,
       allocated_hours, active
  FROM ipai_bronze_erp.project_project WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_erp.projects IS 'Silver: projects.';

CREATE VIEW ipai_silver_erp.tasks WITH (security_invoker = true) AS
SELECT id AS task_id, name, project_id, project_name, stage_name, state, partner_name, company_id,
       priority, date_deadline, date_end, allocated_hours, active
  FROM ipai_bronze_erp.project_task WHERE NOT _ipai_deleted;
COMMENT ON VIEW ipai_silver_erp.tasks IS 'Silver: project tasks.';

-- Gold, private materialized views.
CREATE MATERIALIZED VIEW ipai_gold_erp.mv_profit_and_loss AS
SELECT company_id, date_trunc('month', date)::date AS month, section, account_type,
       sum(CASE WHEN section = 'income' THEN -balance ELSE balance END) AS amount
  FROM ipai_silver_erp.journal_items
 WHERE section IN ('income', 'expense')
 GROUP BY 1, 2, 3, 4;
CREATE UNIQUE INDEX ON ipai_gold_erp.mv_profit_and_loss (company_id, month, section, account_type);

-- Month-end balance sheet. Assets are debit balances; liabilities and equity credit balances;
-- income and expense not yet closed into equity appear as `current_earnings` in equity, so
-- assets = liabilities + equity holds to the cent.
CREATE MATERIALIZED VIEW ipai_gold_erp.mv_balance_sheet_monthly AS
WITH months AS (
    SELECT DISTINCT company_id,
           (date_trunc('month', date) + interval '1 month - 1 day')::date AS month_end
      FROM ipai_silver_erp.journal_items),
lines AS (
    SELECT m.company_id, m.month_end,
           CASE WHEN j.section IN ('income', 'expense') THEN 'equity' ELSE j.section END
             AS section,
           CASE WHEN j.section IN ('income', 'expense') THEN 'current_earnings'
                ELSE j.account_type END AS account_type,
           j.balance
      FROM months m
      JOIN ipai_silver_erp.journal_items j
        ON j.company_id = m.company_id AND j.date <= m.month_end
     WHERE j.section <> 'off_balance')
SELECT company_id, month_end, section, account_type,
       sum(CASE WHEN section = 'asset' THEN balance ELSE -balance END) AS amount
  FROM lines GROUP BY 1, 2, 3, 4;
CREATE UNIQUE INDEX ON ipai_gold_erp.mv_balance_sheet_monthly (company_id, month_end, section, account_type);

CREATE MATERIALIZED VIEW ipai_gold_erp.mv_cash_flow AS
WITH monthly AS (
    SELECT company_id, date_trunc('month', date)::date AS month,
           sum(debit) AS inflow, sum(credit) AS outflow, sum(balance) AS net_change
      FROM ipai_silver_erp.journal_items
     WHERE account_type = 'asset_cash'
     GROUP BY 1, 2)
SELECT company_id, month, inflow, outflow, net_change,
       sum(net_change) OVER (PARTITION BY company_id ORDER BY month) AS closing_balance
  FROM monthly;
CREATE UNIQUE INDEX ON ipai_gold_erp.mv_cash_flow (company_id, month);

-- Open receivable and payable items (residual left), with days overdue at refresh time.
CREATE MATERIALIZED VIEW ipai_gold_erp.mv_open_items AS
SELECT line_id, move_id, move_name, company_id, partner_id, partner_name,
       CASE WHEN account_type = 'asset_receivable' THEN 'receivable' ELSE 'payable' END AS kind,
       date, coalesce(date_maturity, date) AS due_date,
       CASE WHEN account_type = 'asset_receivable' THEN amount_residual ELSE -amount_residual END
         AS open_amount,
       greatest(current_date - coalesce(date_maturity, date), 0) AS days_overdue,
       current_date AS as_of
  FROM ipai_silver_erp.journal_items
 WHERE account_type IN ('asset_receivable', 'liability_payable') AND amount_residual <> 0;
CREATE UNIQUE INDEX ON ipai_gold_erp.mv_open_items (line_id);

CREATE MATERIALIZED VIEW ipai_gold_erp.mv_aging AS
SELECT company_id, kind, coalesce(partner_id, 0) AS partner_id,
       coalesce(max(partner_name), '(no partner)') AS partner_name,
       sum(open_amount) FILTER (WHERE due_date >= as_of) AS not_due,
       sum(open_amount) FILTER (WHERE due_date < as_of AND days_overdue <= 30) AS days_0_30,
       sum(open_amount) FILTER (WHERE days_overdue BETWEEN 31 AND 60) AS days_31_60,
       sum(open_amount) FILTER (WHERE days_overdue BETWEEN 61 AND 90) AS days_61_90,
       sum(open_amount) FILTER (WHERE days_overdue > 90) AS days_90_plus,
       sum(open_amount) AS total_open, max(as_of) AS as_of
  FROM ipai_gold_erp.mv_open_items
 GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX ON ipai_gold_erp.mv_aging (company_id, kind, partner_id);

REVOKE ALL ON ipai_gold_erp.mv_profit_and_loss, ipai_gold_erp.mv_balance_sheet_monthly,
  ipai_gold_erp.mv_cash_flow, ipai_gold_erp.mv_open_items, ipai_gold_erp.mv_aging
  FROM PUBLIC, anon, authenticated;
COMMENT ON MATERIALIZED VIEW ipai_gold_erp.mv_profit_and_loss IS 'Private store of gold.profit_and_loss.';
COMMENT ON MATERIALIZED VIEW ipai_gold_erp.mv_balance_sheet_monthly IS 'Private store of gold.balance_sheet_monthly.';
COMMENT ON MATERIALIZED VIEW ipai_gold_erp.mv_cash_flow IS 'Private store of gold.cash_flow.';
COMMENT ON MATERIALIZED VIEW ipai_gold_erp.mv_open_items IS 'Private store of gold.open_items.';
COMMENT ON MATERIALIZED VIEW ipai_gold_erp.mv_aging IS 'Private store of gold.aging.';

-- Gold, served: guarded by company.
CREATE VIEW ipai_gold_erp.profit_and_loss WITH (security_barrier) AS
SELECT p.*, c.company_name FROM ipai_gold_erp.mv_profit_and_loss p
  LEFT JOIN ipai_silver_erp.companies c USING (company_id)
 WHERE public.ipai_company_allowed(p.company_id);
CREATE VIEW ipai_gold_erp.balance_sheet_monthly WITH (security_barrier) AS
SELECT b.*, c.company_name FROM ipai_gold_erp.mv_balance_sheet_monthly b
  LEFT JOIN ipai_silver_erp.companies c USING (company_id)
 WHERE public.ipai_company_allowed(b.company_id);
CREATE VIEW ipai_gold_erp.cash_flow WITH (security_barrier) AS
SELECT f.*, c.company_name FROM ipai_gold_erp.mv_cash_flow f
  LEFT JOIN ipai_silver_erp.companies c USING (company_id)
 WHERE public.ipai_company_allowed(f.company_id);
CREATE VIEW ipai_gold_erp.open_items WITH (security_barrier) AS
SELECT * FROM ipai_gold_erp.mv_open_items WHERE public.ipai_company_allowed(company_id);
CREATE VIEW ipai_gold_erp.aging WITH (security_barrier) AS
SELECT * FROM ipai_gold_erp.mv_aging WHERE public.ipai_company_allowed(company_id);
-- Journal items behind a figure (drill-down), same company guard.
CREATE VIEW ipai_gold_erp.journal_items WITH (security_barrier) AS
SELECT * FROM ipai_silver_erp.journal_items WHERE public.ipai_company_allowed(company_id);
GRANT SELECT ON ipai_gold_erp.profit_and_loss, ipai_gold_erp.balance_sheet_monthly,
  ipai_gold_erp.cash_flow, ipai_gold_erp.open_items, ipai_gold_erp.aging,
  ipai_gold_erp.journal_items TO authenticated;

-- Balance sheet at any date, computed on demand under the same guard.
CREATE OR REPLACE FUNCTION ipai_gold_erp.balance_sheet_at(p_date date)
RETURNS TABLE (company_id bigint, section text, account_type text, amount numeric)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT j.company_id,
         CASE WHEN j.section IN ('income', 'expense') THEN 'equity' ELSE j.section END,
         CASE WHEN j.section IN ('income', 'expense') THEN 'current_earnings'
              ELSE j.account_type END,
         sum(CASE WHEN j.section = 'asset' THEN j.balance ELSE -j.balance END)
    FROM ipai_silver_erp.journal_items j
   WHERE j.date <= p_date AND j.section <> 'off_balance'
     AND public.ipai_company_allowed(j.company_id)
   GROUP BY 1, 2, 3
$$;
REVOKE ALL ON FUNCTION ipai_gold_erp.balance_sheet_at(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ipai_gold_erp.balance_sheet_at(date) TO authenticated, service_role;
COMMENT ON FUNCTION ipai_gold_erp.balance_sheet_at(date) IS
  'Gold: balance sheet at a date, by company, section and account type (guarded by company).';

COMMENT ON VIEW ipai_gold_erp.profit_and_loss IS
  'Gold: income and expense per company, month and account type (amounts positive; net = income − expense).';
COMMENT ON VIEW ipai_gold_erp.balance_sheet_monthly IS
  'Gold: month-end balance sheet per company, section and account type; assets = liabilities + equity.';
COMMENT ON VIEW ipai_gold_erp.cash_flow IS
  'Gold: cash and bank inflow, outflow, net change and closing balance per company and month.';
COMMENT ON VIEW ipai_gold_erp.open_items IS
  'Gold: open receivable and payable items with days overdue.';
COMMENT ON VIEW ipai_gold_erp.aging IS
  'Gold: receivables and payables aging per partner: not due, 0–30, 31–60, 61–90, 90+ days overdue.';
COMMENT ON VIEW ipai_gold_erp.journal_items IS
  'Gold: posted journal items, for drilling down from a figure to its lines (guarded by company).';
