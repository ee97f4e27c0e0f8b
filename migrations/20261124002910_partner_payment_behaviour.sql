-- Platinum ERP feature set: how each customer pays, per partner and company — the input of
-- receivables risk and of the reconciliation helper. Silver gains the settlement date of each
-- invoice (from Odoo's matching numbers); platinum keeps the figures in a private materialized
-- view served through a company-guarded view, as gold does.

-- Silver: posted invoices and bills with the date of the last payment matched against them.
-- Odoo marks the receivable/payable lines of an invoice and of its payments with one
-- `matching_number`; the invoice is settled on the latest date among its counterparts once it is
-- paid in full (payment_state `paid` or `in_payment`). Reversed invoices are not payments.
CREATE VIEW ipai_silver_erp.invoice_settlement WITH (security_invoker = true) AS
WITH open_lines AS (
    SELECT l.move_id, l.company_id, l.matching_number
      FROM ipai_bronze_erp.account_move_line l
     WHERE NOT l._ipai_deleted AND l.parent_state = 'posted'
       AND l.display_type = 'payment_term' AND l.matching_number IS NOT NULL),
matched AS (
    SELECT o.move_id, max(c.date) AS last_matched
      FROM open_lines o
      JOIN ipai_bronze_erp.account_move_line c
        ON c.company_id = o.company_id AND c.matching_number = o.matching_number
       AND c.move_id <> o.move_id AND NOT c._ipai_deleted AND c.parent_state = 'posted'
     GROUP BY o.move_id)
SELECT m.move_id, m.name, m.move_type, m.company_id, m.partner_id, m.partner_name,
       m.invoice_date, coalesce(m.invoice_date_due, m.invoice_date) AS due_date,
       m.amount_total, m.amount_residual, m.payment_state,
       CASE WHEN m.payment_state IN ('paid', 'in_payment') THEN x.last_matched END AS paid_date
  FROM ipai_silver_erp.moves m
  LEFT JOIN matched x USING (move_id)
 WHERE m.state = 'posted' AND m.move_type IN ('out_invoice', 'in_invoice');
COMMENT ON VIEW ipai_silver_erp.invoice_settlement IS
  'Silver: posted customer invoices and vendor bills with the date they were paid in full (last matched payment), if they were.';

-- Platinum, private. Per customer and company:
--   invoices            posted customer invoices;  invoices_paid  those paid in full
--   avg_days_to_pay     mean of paid_date − invoice_date over paid invoices
--   share_paid_late     share of paid invoices paid after their due date (0–1)
--   avg_days_late       mean of paid_date − due_date over the invoices paid late
--   open_receivable     open receivable amount now (credit notes and partial payments netted);
--   overdue_receivable  the part of it past due
--   last_payment_date   latest customer payment booked against the receivable account
--   risk_score          0–100: 40 × share_paid_late + 30 × min(avg_days_late / 60, 1)
--                       + 30 × (overdue share of the open receivable), rounded
CREATE MATERIALIZED VIEW ipai_platinum_erp.mv_partner_payment_behaviour AS
WITH invoices AS (
    SELECT company_id, partner_id,
           count(*) AS invoices,
           count(paid_date) AS invoices_paid,
           avg(paid_date - invoice_date) AS avg_days_to_pay,
           avg(CASE WHEN paid_date > due_date THEN 1.0 ELSE 0.0 END)
             FILTER (WHERE paid_date IS NOT NULL) AS share_paid_late,
           avg(paid_date - due_date) FILTER (WHERE paid_date > due_date) AS avg_days_late
      FROM ipai_silver_erp.invoice_settlement
     WHERE move_type = 'out_invoice' AND partner_id IS NOT NULL
     GROUP BY 1, 2),
open_items AS (
    SELECT company_id, partner_id, sum(open_amount) AS open_receivable,
           coalesce(sum(open_amount) FILTER (WHERE days_overdue > 0), 0) AS overdue_receivable
      FROM ipai_gold_erp.mv_open_items
     WHERE kind = 'receivable'
     GROUP BY 1, 2),
payments AS (
    SELECT j.company_id, j.partner_id, max(j.date) AS last_payment_date
      FROM ipai_silver_erp.journal_items j
      JOIN ipai_silver_erp.moves m USING (move_id)
     WHERE j.account_type = 'asset_receivable' AND j.credit > 0 AND m.move_type = 'entry'
     GROUP BY 1, 2),
features AS (
    SELECT i.company_id, i.partner_id, p.partner_name, i.invoices, i.invoices_paid,
           round(i.avg_days_to_pay, 1) AS avg_days_to_pay,
           round(coalesce(i.share_paid_late, 0), 3) AS share_paid_late,
           round(coalesce(i.avg_days_late, 0), 1) AS avg_days_late,
           coalesce(o.open_receivable, 0) AS open_receivable,
           coalesce(o.overdue_receivable, 0) AS overdue_receivable,
           pay.last_payment_date,
           coalesce(i.share_paid_late, 0) AS late_share,
           least(coalesce(i.avg_days_late, 0) / 60.0, 1) AS lateness,
           CASE WHEN coalesce(o.open_receivable, 0) > 0
                THEN greatest(least(o.overdue_receivable / o.open_receivable, 1), 0)
                ELSE 0 END AS overdue_share
      FROM invoices i
      LEFT JOIN ipai_silver_erp.partners p ON p.partner_id = i.partner_id
      LEFT JOIN open_items o ON o.company_id = i.company_id AND o.partner_id = i.partner_id
      LEFT JOIN payments pay
        ON pay.company_id = i.company_id AND pay.partner_id = i.partner_id)
SELECT company_id, partner_id, partner_name, invoices, invoices_paid, avg_days_to_pay,
       share_paid_late, avg_days_late, open_receivable, overdue_receivable, last_payment_date,
       round(100 * (0.4 * late_share + 0.3 * lateness + 0.3 * overdue_share))::integer
         AS risk_score,
       current_date AS as_of
  FROM features;
CREATE UNIQUE INDEX ON ipai_platinum_erp.mv_partner_payment_behaviour (company_id, partner_id);
REVOKE ALL ON ipai_platinum_erp.mv_partner_payment_behaviour FROM PUBLIC, anon, authenticated;
COMMENT ON MATERIALIZED VIEW ipai_platinum_erp.mv_partner_payment_behaviour IS
  'Private store of platinum.partner_payment_behaviour.';

-- Platinum, served: guarded by company.
CREATE VIEW ipai_platinum_erp.partner_payment_behaviour WITH (security_barrier) AS
SELECT f.*, c.company_name FROM ipai_platinum_erp.mv_partner_payment_behaviour f
  LEFT JOIN ipai_silver_erp.companies c USING (company_id)
 WHERE public.ipai_company_allowed(f.company_id);
GRANT SELECT ON ipai_platinum_erp.partner_payment_behaviour TO authenticated;
COMMENT ON VIEW ipai_platinum_erp.partner_payment_behaviour IS
  'Platinum feature set: customer payment behaviour per partner and company — invoices, average days to pay, share paid late, average days late, open and overdue receivable, last payment date, risk score 0–100 (guarded by company).';

INSERT INTO public.ipai_feature_set
  (name, kind, relation, description, source, entity_key, materialized_view, owner)
VALUES
  ('partner_payment_behaviour', 'features', 'ipai_platinum_erp.partner_payment_behaviour',
   'How each customer pays, per company: invoices, days to pay, share and days paid late, open and overdue receivable, last payment, a 0–100 risk score. For receivables risk and bank reconciliation.',
   ARRAY['ipai_silver_erp.invoice_settlement', 'ipai_gold_erp.open_items',
         'ipai_silver_erp.journal_items', 'ipai_silver_erp.partners'],
   ARRAY['company_id', 'partner_id'], 'ipai_platinum_erp.mv_partner_payment_behaviour',
   'finance')
ON CONFLICT (name) DO NOTHING;
