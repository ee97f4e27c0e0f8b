-- Gold ERP settlement of invoices and bills: how long customers take to pay us and we take to pay
-- vendors (docs/metrics.md: days to pay, days late, share paid late, billed amount). One row per
-- posted customer invoice (`receivable`) or vendor bill (`payable`, the words aging and open
-- items use) from ipai_silver_erp.invoice_settlement, which dates each by its last matched
-- payment once it is paid in full. `days_to_pay` and `days_late` are NULL until it is settled;
-- `days_late` is negative for a document settled before its due date. Credit notes are not here.

CREATE MATERIALIZED VIEW ipai_gold_erp.mv_invoice_settlement AS
SELECT move_id, name,
       CASE WHEN move_type = 'out_invoice' THEN 'receivable' ELSE 'payable' END AS kind,
       company_id, partner_id, partner_name, invoice_date, due_date, paid_date, amount_total,
       amount_residual, payment_state,
       paid_date - invoice_date AS days_to_pay,
       paid_date - due_date AS days_late
  FROM ipai_silver_erp.invoice_settlement;
CREATE UNIQUE INDEX ON ipai_gold_erp.mv_invoice_settlement (move_id);
REVOKE ALL ON ipai_gold_erp.mv_invoice_settlement FROM PUBLIC, anon, authenticated;
COMMENT ON MATERIALIZED VIEW ipai_gold_erp.mv_invoice_settlement IS
  'Private store of gold.invoice_settlement.';

CREATE VIEW ipai_gold_erp.invoice_settlement WITH (security_barrier) AS
SELECT s.*, c.name AS company_name FROM ipai_gold_erp.mv_invoice_settlement s
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = s.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(s.company_id);
GRANT SELECT ON ipai_gold_erp.invoice_settlement TO authenticated;
COMMENT ON VIEW ipai_gold_erp.invoice_settlement IS
  'Gold: posted customer invoices (receivable) and vendor bills (payable) with due date, date paid in full, total, residual, days to pay and days late (NULL until settled; negative when paid early); guarded by company.';

SELECT public.ipai_bi_sync();
