-- Gold ERP sales by invoice line: what was invoiced to whom, for which product, by invoice date
-- (docs/metrics.md: invoiced amount, invoice count, product, product category). One row per
-- product line of a posted customer invoice (`out_invoice`) or credit note (`out_refund`): its
-- journal items on income accounts, the untaxed amount of the line. Tax and receivable lines are
-- not sales. Credit notes carry negative amounts, so a sum is the invoiced amount net of them.
-- Stored like the rest of gold ERP: a private materialized view, served through a view guarded
-- by company that reads the company name from bronze with the view owner's rights.

CREATE MATERIALIZED VIEW ipai_gold_erp.mv_sales_invoices AS
SELECT j.line_id, m.move_id, m.name AS move_name, m.move_type, m.company_id, m.partner_id,
       m.partner_name, m.invoice_date, j.label AS product, j.account_name AS product_category,
       -j.balance AS amount, m.payment_state
  FROM ipai_silver_erp.moves m
  JOIN ipai_silver_erp.journal_items j ON j.move_id = m.move_id
 WHERE m.state = 'posted' AND m.move_type IN ('out_invoice', 'out_refund')
   AND j.section = 'income';
CREATE UNIQUE INDEX ON ipai_gold_erp.mv_sales_invoices (line_id);
REVOKE ALL ON ipai_gold_erp.mv_sales_invoices FROM PUBLIC, anon, authenticated;
COMMENT ON MATERIALIZED VIEW ipai_gold_erp.mv_sales_invoices IS 'Private store of gold.sales_invoices.';

CREATE VIEW ipai_gold_erp.sales_invoices WITH (security_barrier) AS
SELECT s.*, c.name AS company_name FROM ipai_gold_erp.mv_sales_invoices s
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = s.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(s.company_id);
GRANT SELECT ON ipai_gold_erp.sales_invoices TO authenticated;
COMMENT ON VIEW ipai_gold_erp.sales_invoices IS
  'Gold: product lines of posted customer invoices and credit notes — customer, invoice date, product (line label), product category (income account), untaxed amount (credit notes negative), payment state; guarded by company.';

SELECT public.ipai_bi_sync();
