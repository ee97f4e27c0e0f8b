-- Platinum views a BI login reads must not go through a security_invoker silver view: PostgreSQL
-- checks such a view's relations as the querying user even from inside another view, and a BI
-- login may not read bronze (20261124002405 says the same of finance users and fixed gold ERP).
-- partner_payment_behaviour took its company name from ipai_silver_erp.companies, so a BI login
-- was refused the whole view and finance users got no company name. Same columns, same guard;
-- the name is read from bronze with the view owner's rights, as gold's ERP views do.

CREATE OR REPLACE VIEW ipai_platinum_erp.partner_payment_behaviour WITH (security_barrier) AS
SELECT f.*, c.name AS company_name FROM ipai_platinum_erp.mv_partner_payment_behaviour f
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = f.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(f.company_id);
COMMENT ON VIEW ipai_platinum_erp.partner_payment_behaviour IS
  'Platinum feature set: customer payment behaviour per partner and company — invoices, average days to pay, share paid late, average days late, open and overdue receivable, last payment date, risk score 0–100 (guarded by company).';
