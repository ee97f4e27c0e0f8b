-- ERP (Odoo CE) bank statement lines: the bronze table the odoo connector loads, the silver view
-- of posted lines and the gold view finance reads, scoped by company like the rest of gold ERP.
-- A line not yet matched (`is_reconciled = false`) is what the reconciliation helper works on.

CREATE TABLE ipai_bronze_erp.account_bank_statement_line (
    id bigint,
    move_id bigint,
    move_name text,
    statement_id bigint,
    statement_name text,
    journal_id bigint,
    journal_name text,
    company_id bigint,
    company_name text,
    currency_id bigint,
    currency_name text,
    date date,
    payment_ref text,
    ref text,
    partner_id bigint,
    partner_id_display_name text,
    partner_name text,
    account_number text,
    transaction_type text,
    amount numeric(20,4),
    amount_currency numeric(20,4),
    foreign_currency_id bigint,
    foreign_currency_name text,
    amount_residual double precision,
    is_reconciled boolean,
    write_date timestamp with time zone,
    create_date timestamp with time zone,
    _ipai_synced_at timestamptz NOT NULL DEFAULT now(),
    _ipai_run_id uuid,
    _ipai_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
COMMENT ON TABLE ipai_bronze_erp.account_bank_statement_line IS
  'Bronze: Odoo account.bank.statement.line records as synced by the odoo connector.';
SELECT public.ipai_guard_bronze_table('ipai_bronze_erp.account_bank_statement_line');
ALTER TABLE ipai_bronze_erp.account_bank_statement_line OWNER TO service_role;

-- Silver: current lines of posted bank moves. `partner_name` is the partner Odoo recognised;
-- `bank_partner_name` the counterparty as the bank's feed names it (set even when Odoo found none).
CREATE VIEW ipai_silver_erp.bank_statement_lines WITH (security_invoker = true) AS
SELECT l.id AS statement_line_id, l.move_id, l.move_name, l.statement_id, l.statement_name,
       l.journal_id, l.journal_name, l.company_id, l.company_name, l.currency_name, l.date,
       l.payment_ref, l.ref, l.partner_id, l.partner_id_display_name AS partner_name,
       l.partner_name AS bank_partner_name, l.account_number, l.transaction_type, l.amount,
       l.is_reconciled
  FROM ipai_bronze_erp.account_bank_statement_line l
  JOIN ipai_silver_erp.moves m ON m.move_id = l.move_id
 WHERE NOT l._ipai_deleted AND m.state = 'posted';
COMMENT ON VIEW ipai_silver_erp.bank_statement_lines IS
  'Silver: bank statement lines of posted moves; amount signed (money in is positive).';

-- Gold: the same lines behind the company guard. It reads bronze with the view owner's rights
-- (like gold's materialized views): a security-invoker silver view would check bronze as the
-- querying user even from inside this view, and finance users may not read bronze.
CREATE VIEW ipai_gold_erp.bank_statement_lines WITH (security_barrier) AS
SELECT l.id AS statement_line_id, l.move_id, l.move_name, l.statement_id, l.statement_name,
       l.journal_id, l.journal_name, l.company_id, l.company_name, l.currency_name, l.date,
       l.payment_ref, l.ref, l.partner_id, l.partner_id_display_name AS partner_name,
       l.partner_name AS bank_partner_name, l.account_number, l.transaction_type, l.amount,
       l.is_reconciled
  FROM ipai_bronze_erp.account_bank_statement_line l
  JOIN ipai_bronze_erp.account_move m ON m.id = l.move_id AND NOT m._ipai_deleted
 WHERE NOT l._ipai_deleted AND m.state = 'posted' AND public.ipai_company_allowed(l.company_id);
GRANT SELECT ON ipai_gold_erp.bank_statement_lines TO authenticated;
COMMENT ON VIEW ipai_gold_erp.bank_statement_lines IS
  'Gold: bank statement lines of posted moves, matched or waiting for reconciliation; amount signed (money in is positive); guarded by company.';
