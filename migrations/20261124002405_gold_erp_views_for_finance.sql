-- Gold ERP views served to finance users read bronze with the view owner's rights.
--
-- The silver ERP views are security_invoker, and PostgreSQL checks a security-invoker view's
-- relations as the querying user even when it is read from inside another view. Gold views built
-- on them therefore showed finance and auditor users (who may not read bronze) no journal items
-- and no company names. These definitions keep every column and the company guard, and read the
-- bronze tables directly, as gold's materialized views do when they are refreshed.

CREATE OR REPLACE VIEW ipai_gold_erp.journal_items WITH (security_barrier) AS
SELECT l.id AS line_id, l.move_id, l.move_name, l.date, l.date_maturity, l.account_id,
       a.code AS account_code, a.name AS account_name, a.account_type,
       -- the account's section, as ipai_silver_erp.accounts derives it
       CASE WHEN a.account_type LIKE 'asset%' THEN 'asset'
            WHEN a.account_type LIKE 'liability%' THEN 'liability'
            WHEN a.account_type LIKE 'equity%' THEN 'equity'
            WHEN a.account_type LIKE 'income%' THEN 'income'
            WHEN a.account_type LIKE 'expense%' THEN 'expense'
            ELSE 'off_balance' END AS section,
       l.partner_id, l.partner_name, l.journal_id, l.journal_name, l.company_id,
       l.debit, l.credit, l.balance, l.amount_residual, l.reconciled, l.name AS label, l.ref
  FROM ipai_bronze_erp.account_move_line l
  JOIN ipai_bronze_erp.account_account a ON a.id = l.account_id AND NOT a._ipai_deleted
 WHERE NOT l._ipai_deleted AND l.parent_state = 'posted'
   AND public.ipai_company_allowed(l.company_id);

CREATE OR REPLACE VIEW ipai_gold_erp.profit_and_loss WITH (security_barrier) AS
SELECT p.*, c.name AS company_name FROM ipai_gold_erp.mv_profit_and_loss p
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = p.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(p.company_id);

CREATE OR REPLACE VIEW ipai_gold_erp.balance_sheet_monthly WITH (security_barrier) AS
SELECT b.*, c.name AS company_name FROM ipai_gold_erp.mv_balance_sheet_monthly b
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = b.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(b.company_id);

CREATE OR REPLACE VIEW ipai_gold_erp.cash_flow WITH (security_barrier) AS
SELECT f.*, c.name AS company_name FROM ipai_gold_erp.mv_cash_flow f
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = f.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(f.company_id);
