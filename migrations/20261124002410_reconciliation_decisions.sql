-- Reconciliation decisions: a finance user accepts or rejects a proposed match between a bank
-- statement line and one or more open receivable/payable items. History is append-only: nobody
-- updates or deletes a decision (not even the owner); a newer decision supersedes an older one.

CREATE TABLE ipai_platinum_erp.reconciliation_decisions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    company_id bigint NOT NULL,
    statement_line_id bigint NOT NULL,
    move_line_ids bigint[] NOT NULL,
    score numeric(4,3) NOT NULL,
    decision text NOT NULL,
    reason text NOT NULL DEFAULT '',
    decided_by uuid,
    decided_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reconciliation_decision_kind CHECK (decision IN ('accepted', 'rejected')),
    CONSTRAINT reconciliation_score_range CHECK (score BETWEEN 0 AND 1),
    CONSTRAINT reconciliation_items_present CHECK (cardinality(move_line_ids) >= 1)
);
CREATE INDEX ON ipai_platinum_erp.reconciliation_decisions (company_id, statement_line_id, seq);
COMMENT ON TABLE ipai_platinum_erp.reconciliation_decisions IS
  'Append-only history of accepted and rejected bank reconciliation matches; the newest row per statement line is the current decision.';
COMMENT ON COLUMN ipai_platinum_erp.reconciliation_decisions.move_line_ids IS
  'The open receivable/payable journal items (account.move.line ids) matched with the statement line; several for one payment of several invoices.';
COMMENT ON COLUMN ipai_platinum_erp.reconciliation_decisions.seq IS
  'Order of decisions: the highest per statement line is current.';
COMMENT ON COLUMN ipai_platinum_erp.reconciliation_decisions.decided_by IS
  'auth.uid() of the user who decided, stamped by the database.';

-- Who and when come from the request, never from the client.
CREATE OR REPLACE FUNCTION ipai_platinum_erp.stamp_reconciliation_decision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.decided_by := auth.uid();
  NEW.decided_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION ipai_platinum_erp.stamp_reconciliation_decision() IS
  'Trigger: stamps decided_by with auth.uid() and decided_at with the transaction time.';
CREATE TRIGGER stamp_decision BEFORE INSERT ON ipai_platinum_erp.reconciliation_decisions
  FOR EACH ROW EXECUTE FUNCTION ipai_platinum_erp.stamp_reconciliation_decision();

CREATE OR REPLACE FUNCTION ipai_platinum_erp.reconciliation_decisions_are_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'reconciliation decisions are history: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Record a new decision instead; the newest one per statement line is current.';
END
$$;
COMMENT ON FUNCTION ipai_platinum_erp.reconciliation_decisions_are_history() IS
  'Trigger: refuses UPDATE, DELETE and TRUNCATE of reconciliation decisions.';
CREATE TRIGGER decisions_no_update_delete
  BEFORE UPDATE OR DELETE ON ipai_platinum_erp.reconciliation_decisions
  FOR EACH ROW EXECUTE FUNCTION ipai_platinum_erp.reconciliation_decisions_are_history();
CREATE TRIGGER decisions_no_truncate
  BEFORE TRUNCATE ON ipai_platinum_erp.reconciliation_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION ipai_platinum_erp.reconciliation_decisions_are_history();

ALTER TABLE ipai_platinum_erp.reconciliation_decisions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ipai_platinum_erp.reconciliation_decisions FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT ON ipai_platinum_erp.reconciliation_decisions TO authenticated;
GRANT SELECT ON ipai_platinum_erp.reconciliation_decisions TO service_role;

-- Read: whoever may see the company's finance data (admin, finance, auditor).
CREATE POLICY decisions_read ON ipai_platinum_erp.reconciliation_decisions
  FOR SELECT TO authenticated USING (public.ipai_company_allowed(company_id));
-- Decide: finance (or admin) of that company, signed in, about a statement line of that company
-- and open-item journal items (receivable or payable) of the same company.
CREATE POLICY decisions_insert ON ipai_platinum_erp.reconciliation_decisions
  FOR INSERT TO authenticated
  WITH CHECK (
    public.ipai_has_role('finance')
    AND public.ipai_company_allowed(company_id)
    AND decided_by IS NOT NULL
    AND EXISTS (SELECT 1 FROM ipai_gold_erp.bank_statement_lines s
                 WHERE s.statement_line_id = reconciliation_decisions.statement_line_id
                   AND s.company_id = reconciliation_decisions.company_id)
    AND NOT EXISTS (
          SELECT 1 FROM unnest(reconciliation_decisions.move_line_ids) AS m(line_id)
           WHERE NOT EXISTS (
                   SELECT 1 FROM ipai_gold_erp.journal_items j
                    WHERE j.line_id = m.line_id
                      AND j.company_id = reconciliation_decisions.company_id
                      AND j.account_type IN ('asset_receivable', 'liability_payable'))));
CREATE POLICY decisions_service_read ON ipai_platinum_erp.reconciliation_decisions
  FOR SELECT TO service_role USING (true);

-- The current decision per statement line: its newest row.
CREATE VIEW ipai_platinum_erp.reconciliation_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (statement_line_id)
       statement_line_id, company_id, move_line_ids, score, decision, reason, decided_by,
       decided_at, id AS decision_id
  FROM ipai_platinum_erp.reconciliation_decisions
 ORDER BY statement_line_id, seq DESC;
COMMENT ON VIEW ipai_platinum_erp.reconciliation_current IS
  'The current reconciliation decision per bank statement line (the newest; accepted lines are matched).';
