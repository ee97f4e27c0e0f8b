-- Company names on gold aging and open items, as the other gold ERP views carry them: a finance
-- user asks for "receivables of IPAI Demo Singapore", not of company 2. The columns, their order
-- and the company guard stay; `company_name` is appended, read from bronze with the view owner's
-- rights (20261124002405 says why not from the security-invoker silver view).

CREATE OR REPLACE VIEW ipai_gold_erp.open_items WITH (security_barrier) AS
SELECT o.*, c.name AS company_name FROM ipai_gold_erp.mv_open_items o
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = o.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(o.company_id);

CREATE OR REPLACE VIEW ipai_gold_erp.aging WITH (security_barrier) AS
SELECT a.*, c.name AS company_name FROM ipai_gold_erp.mv_aging a
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = a.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(a.company_id);

COMMENT ON VIEW ipai_gold_erp.open_items IS
  'Gold: open receivable and payable items with days overdue, per company (id and name).';
COMMENT ON VIEW ipai_gold_erp.aging IS
  'Gold: receivables and payables aging per company and partner: not due, 1–30, 31–60, 61–90, 90+ days overdue.';
