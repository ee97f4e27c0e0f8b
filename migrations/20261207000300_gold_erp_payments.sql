-- Gold ERP payments: money in and out of the bank accounts, by partner (docs/metrics.md: payments
-- received / made). One row per bank statement line of a posted bank move, from
-- ipai_silver_erp.bank_statement_lines, matched to an invoice or not, with or without a partner
-- Odoo recognised (`partner_name` NULL then): `direction` is `received` for money in and `made`
-- for money out, `amount` its absolute value. Bank fees and interest are payments too (no partner).

CREATE MATERIALIZED VIEW ipai_gold_erp.mv_payments AS
SELECT statement_line_id, company_id, partner_id, partner_name, date,
       CASE WHEN amount < 0 THEN 'made' ELSE 'received' END AS direction,
       abs(amount) AS amount, transaction_type
  FROM ipai_silver_erp.bank_statement_lines;
CREATE UNIQUE INDEX ON ipai_gold_erp.mv_payments (statement_line_id);
REVOKE ALL ON ipai_gold_erp.mv_payments FROM PUBLIC, anon, authenticated;
COMMENT ON MATERIALIZED VIEW ipai_gold_erp.mv_payments IS 'Private store of gold.payments.';

CREATE VIEW ipai_gold_erp.payments WITH (security_barrier) AS
SELECT p.*, c.name AS company_name FROM ipai_gold_erp.mv_payments p
  LEFT JOIN ipai_bronze_erp.res_company c ON c.id = p.company_id AND NOT c._ipai_deleted
 WHERE public.ipai_company_allowed(p.company_id);
GRANT SELECT ON ipai_gold_erp.payments TO authenticated;
COMMENT ON VIEW ipai_gold_erp.payments IS
  'Gold: bank statement lines as payments — partner (NULL when Odoo recognised none), date, direction (received: money in; made: money out), absolute amount, transaction type; guarded by company.';

SELECT public.ipai_bi_sync();
