-- Semantic models for the questions finance, DevOps and retail users ask beyond the seed
-- (20261124002800), implementing docs/metrics.md: sales by invoice line (`sales_invoices`), how
-- invoices and bills get settled (`invoice_settlement`), payments in and out of the bank
-- (`payments`) and pull requests (`pull_requests`), over the gold views of 20261207000100–0500.
-- The seeded models gain what those numbers need: company names on aging and open items, an
-- aging bucket on open items (the boundaries of gold aging), the account group on the P&L, and a
-- DORA change failure rate pooled over repositories (failed ÷ production deployments; for one
-- repository the view's 4-decimal rate, unrounded). Open items stop answering to "invoice
-- count" and "number of invoices": those are the posted customer invoices of `sales_invoices`.
-- New models upsert by dataset, as the seed does; seeded ones are edited field by field (a field
-- of the same name is replaced where it stands, a new one appended), so the rest of a model a
-- data engineer may have tuned stays as it is.

INSERT INTO public.ipai_semantic_model
  (dataset, source_view, description, grain, measures, dimensions, synonyms, default_filters,
   rls_policy_refs)
VALUES (
  'sales_invoices',
  'ipai_gold_erp.sales_invoices',
  'What was invoiced to which customer, for which product and product category, by invoice date: the untaxed product lines of posted customer invoices and credit notes in Odoo (credit notes negative).',
  'product line of a posted customer invoice or credit note',
  $json$[
    {"name": "invoiced_amount", "label": "Invoiced amount", "sql": "amount", "aggregation": "sum", "format": "currency", "description": "Untaxed amount of posted customer invoices less posted credit notes, dated by invoice date.", "synonyms": ["invoiced", "invoice", "amount invoiced", "invoiced revenue", "invoiced sales", "invoiced turnover", "net invoiced", "net sales invoiced", "sales invoiced", "revenue invoiced", "billings", "billed to customers"]},
    {"name": "invoice_count", "label": "Number of invoices", "sql": "CASE WHEN move_type = 'out_invoice' THEN move_id END", "aggregation": "count_distinct", "format": "number", "description": "Posted customer invoices (credit notes not counted).", "synonyms": ["count of invoices", "invoices issued", "issued invoices", "invoices sent", "number of sales invoices"]},
    {"name": "credit_note_count", "label": "Number of credit notes", "sql": "CASE WHEN move_type = 'out_refund' THEN move_id END", "aggregation": "count_distinct", "format": "number", "description": "Posted customer credit notes.", "synonyms": ["credit notes", "credit note count", "refunds", "number of refunds", "credit memos"]},
    {"name": "average_invoice_value", "label": "Average invoice value", "sql": "sum(amount) FILTER (WHERE move_type = 'out_invoice') / nullif(count(DISTINCT move_id) FILTER (WHERE move_type = 'out_invoice'), 0)", "aggregation": "none", "format": "currency", "description": "Untaxed amount of posted customer invoices divided by their number (credit notes left out).", "synonyms": ["average invoice", "average invoice amount", "average invoice size", "mean invoice value", "avg invoice value", "typical invoice value"]}
  ]$json$::jsonb,
  $json$[
    {"name": "invoice_date", "label": "Invoice date", "column": "invoice_date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "description": "The invoice's (or credit note's) date.", "synonyms": ["date", "invoiced on", "billing date", "issue date", "issued", "issue", "when"]},
    {"name": "customer", "label": "Customer", "column": "partner_name", "type": "string", "lookup": true, "description": "The partner invoiced.", "synonyms": ["customers", "client", "clients", "partner", "partners", "buyer", "buyers", "who"]},
    {"name": "company", "label": "Company", "column": "company_name", "type": "string", "lookup": true, "description": "The ERP company that invoiced.", "synonyms": ["companies", "entity", "entities", "legal entity", "subsidiary", "business unit"]},
    {"name": "product", "label": "Product", "column": "product", "type": "string", "lookup": true, "description": "The invoice line's product (its label).", "synonyms": ["products", "item", "items", "offering", "offerings", "what was sold"]},
    {"name": "product_category", "label": "Product category", "column": "product_category", "type": "string", "lookup": true, "description": "The income account the line is booked to.", "synonyms": ["product categories", "income account", "revenue account", "sales account", "revenue stream", "revenue streams", "product group"]},
    {"name": "payment_state", "label": "Payment state", "column": "payment_state", "type": "string", "description": "Odoo's payment state of the invoice: not_paid, partial, in_payment, paid, reversed.", "synonyms": ["payment status", "paid or not"], "value_synonyms": {"paid": ["paid in full", "fully paid", "settled"], "not_paid": ["unpaid", "not paid"], "partial": ["partially paid", "part paid", "partly paid"], "in_payment": ["payment in progress", "payment pending"], "reversed": ["reversed", "credited"]}},
    {"name": "document_type", "label": "Invoice or credit note", "sql": "CASE WHEN move_type = 'out_refund' THEN 'credit note' ELSE 'invoice' END", "type": "string", "description": "invoice or credit note.", "synonyms": ["document type", "invoice or credit note", "type of document"], "value_synonyms": {"credit note": ["credit notes", "refunds", "credit memos"]}},
    {"name": "invoice_number", "label": "Invoice number", "column": "move_name", "type": "string", "description": "The invoice's or credit note's number.", "synonyms": ["document number", "invoice no", "invoice reference"]}
  ]$json$::jsonb,
  ARRAY['sales invoices', 'invoices', 'customer invoices', 'invoice lines', 'invoicing', 'billing', 'credit notes', 'sales by customer', 'sales per customer', 'sales by product', 'sales per product', 'revenue by customer', 'revenue per customer', 'revenue by product', 'revenue per product', 'turnover by customer', 'customers by revenue', 'customers by sales', 'products by revenue', 'products by sales', 'best customers', 'best selling products']::text[],
  '[]'::jsonb,
  ARRAY['ipai_company_allowed(company_id): admin; finance or auditor (only the companies in app_metadata.company_ids when that claim is set)']::text[]
)
ON CONFLICT (dataset) DO UPDATE SET
  source_view = EXCLUDED.source_view, description = EXCLUDED.description, grain = EXCLUDED.grain,
  measures = EXCLUDED.measures, dimensions = EXCLUDED.dimensions, synonyms = EXCLUDED.synonyms,
  default_filters = EXCLUDED.default_filters, rls_policy_refs = EXCLUDED.rls_policy_refs,
  is_active = true;

INSERT INTO public.ipai_semantic_model
  (dataset, source_view, description, grain, measures, dimensions, synonyms, default_filters,
   rls_policy_refs)
VALUES (
  'invoice_settlement',
  'ipai_gold_erp.invoice_settlement',
  'How posted customer invoices (receivable) and vendor bills (payable) get settled: days to pay, days late, share paid late, billed and invoiced totals, and what is still outstanding on them.',
  'posted customer invoice or vendor bill',
  $json$[
    {"name": "avg_days_to_pay", "label": "Average days to pay", "sql": "days_to_pay", "aggregation": "avg", "format": "number", "description": "Days from invoice date to the date the document was paid in full, averaged over settled documents.", "synonyms": ["days to pay", "time to pay", "take to pay", "days customers take to pay", "payment time", "average payment time", "how long to pay", "days to collect", "collection period", "average collection period"]},
    {"name": "avg_days_late", "label": "Average days late", "sql": "days_late", "aggregation": "avg", "format": "number", "description": "Days from due date to the date the document was paid in full, averaged over settled documents (negative when paid early on average).", "synonyms": ["days late", "payment delay", "average payment delay", "lateness", "days past due when paid"]},
    {"name": "share_paid_late", "label": "Share paid late", "sql": "count(*) FILTER (WHERE days_late > 0)::numeric / nullif(count(paid_date), 0)", "aggregation": "none", "format": "percent", "description": "Settled documents settled after their due date ÷ settled documents.", "synonyms": ["paid late", "pay late", "pays late", "late payment rate", "late payment ratio", "percentage paid late", "proportion paid late", "share of late payments"]},
    {"name": "settled_count", "label": "Settled documents", "sql": "paid_date", "aggregation": "count", "format": "number", "description": "Invoices and bills paid in full.", "synonyms": ["settled", "number settled", "paid in full", "fully paid", "settled invoices", "paid invoices", "paid bills"]},
    {"name": "document_count", "label": "Invoices and bills", "sql": "move_id", "aggregation": "count", "format": "number", "description": "Posted customer invoices and vendor bills, settled or not.", "synonyms": ["number of documents", "document count", "invoices and bills", "number of invoices and bills"]},
    {"name": "billed_amount", "label": "Billed amount", "sql": "CASE WHEN kind = 'payable' THEN amount_total ELSE 0 END", "aggregation": "sum", "format": "currency", "description": "Total (with tax) of posted vendor bills.", "synonyms": ["billed", "amount billed", "total billed", "vendor bills total", "purchase invoices", "supplier invoices total"]},
    {"name": "invoice_total_incl_tax", "label": "Customer invoice total incl. tax", "sql": "CASE WHEN kind = 'receivable' THEN amount_total ELSE 0 END", "aggregation": "sum", "format": "currency", "description": "Total (with tax) of posted customer invoices.", "synonyms": ["customer invoice total", "customer invoices total", "invoiced including tax", "invoiced with tax", "gross invoiced"]},
    {"name": "amount_outstanding", "label": "Amount outstanding", "sql": "amount_residual", "aggregation": "sum", "format": "currency", "description": "What is still to be paid on these documents now (customer invoices and vendor bills alike: filter by kind for one side).", "synonyms": ["outstanding amount", "left to pay", "remaining to pay", "unpaid balance", "residual amount", "balance remaining"]}
  ]$json$::jsonb,
  $json$[
    {"name": "invoice_date", "label": "Invoice date", "column": "invoice_date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "description": "The invoice's or bill's date.", "synonyms": ["date", "bill date", "document date", "issued", "when"]},
    {"name": "kind", "label": "Receivable or payable", "column": "kind", "type": "string", "lookup": true, "description": "receivable: customer invoices; payable: vendor bills.", "synonyms": ["side", "ar or ap", "receivable or payable", "customer or vendor"], "value_synonyms": {"receivable": ["customer", "client", "debtor", "receivables", "accounts receivable", "ar", "customer invoices"], "payable": ["vendor", "supplier", "creditor", "payables", "accounts payable", "ap", "vendor bills", "bills"]}},
    {"name": "partner", "label": "Partner", "column": "partner_name", "type": "string", "lookup": true, "description": "The customer or vendor.", "synonyms": ["customer", "customers", "client", "clients", "vendor", "vendors", "supplier", "suppliers", "debtor", "creditor", "counterparty", "who"]},
    {"name": "company", "label": "Company", "column": "company_name", "type": "string", "lookup": true, "description": "The ERP company.", "synonyms": ["companies", "entity", "entities", "legal entity", "subsidiary", "business unit"]},
    {"name": "due_date", "label": "Due date", "column": "due_date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "description": "When the document falls due (its date when it has no due date).", "synonyms": ["due", "maturity", "falling due"]},
    {"name": "paid_date", "label": "Paid date", "column": "paid_date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "description": "When the document was paid in full (its last matched payment); empty until then.", "synonyms": ["payment date", "settlement date", "date paid", "settled on", "paid on"]},
    {"name": "payment_state", "label": "Payment state", "column": "payment_state", "type": "string", "description": "Odoo's payment state: not_paid, partial, in_payment, paid, reversed.", "synonyms": ["payment status", "paid or not"], "value_synonyms": {"paid": ["paid in full", "fully paid", "settled"], "not_paid": ["unpaid", "not paid"], "partial": ["partially paid", "part paid", "partly paid"], "in_payment": ["payment in progress", "payment pending"], "reversed": ["reversed", "credited"]}},
    {"name": "document", "label": "Document", "column": "name", "type": "string", "description": "The invoice's or bill's number.", "synonyms": ["invoice number", "bill number", "document number"]}
  ]$json$::jsonb,
  ARRAY['invoice settlement', 'settlement', 'payment behaviour', 'payment behavior', 'paying habits', 'late payments', 'late payers', 'slow payers', 'payment terms', 'vendor bills', 'supplier bills', 'bills paid']::text[],
  '[]'::jsonb,
  ARRAY['ipai_company_allowed(company_id): admin; finance or auditor (only the companies in app_metadata.company_ids when that claim is set)']::text[]
)
ON CONFLICT (dataset) DO UPDATE SET
  source_view = EXCLUDED.source_view, description = EXCLUDED.description, grain = EXCLUDED.grain,
  measures = EXCLUDED.measures, dimensions = EXCLUDED.dimensions, synonyms = EXCLUDED.synonyms,
  default_filters = EXCLUDED.default_filters, rls_policy_refs = EXCLUDED.rls_policy_refs,
  is_active = true;

INSERT INTO public.ipai_semantic_model
  (dataset, source_view, description, grain, measures, dimensions, synonyms, default_filters,
   rls_policy_refs)
VALUES (
  'payments',
  'ipai_gold_erp.payments',
  'Bank statement lines from Odoo as payments: money received (in) and made (out) per partner, company, date and transaction type; amounts are absolute.',
  'bank statement line',
  $json$[
    {"name": "payments_received", "label": "Payments received", "sql": "CASE WHEN direction = 'received' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "description": "Money in: bank statement lines with a positive amount.", "synonyms": ["received payments", "money received", "amount received", "incoming payments", "customer payments", "cash collected", "money coming"]},
    {"name": "payments_made", "label": "Payments made", "sql": "CASE WHEN direction = 'made' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "description": "Money out: bank statement lines with a negative amount, as a positive figure.", "synonyms": ["money paid out", "amount paid", "outgoing payments", "paid out", "vendor payments", "supplier payments", "money going out", "disbursed"]},
    {"name": "net_payments", "label": "Net payments", "sql": "CASE WHEN direction = 'received' THEN amount ELSE -amount END", "aggregation": "sum", "format": "currency", "description": "Payments received less payments made.", "synonyms": ["net received", "net payment flow", "net bank movement", "payments net"]},
    {"name": "payment_count", "label": "Number of payments", "sql": "statement_line_id", "aggregation": "count", "format": "number", "description": "Bank statement lines, in and out.", "synonyms": ["payments", "payment count", "count of payments", "bank transactions", "number of bank transactions", "statement lines", "transfers"]}
  ]$json$::jsonb,
  $json$[
    {"name": "date", "label": "Date", "column": "date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "description": "The bank statement line's date.", "synonyms": ["payment date", "value date", "booking date", "when"]},
    {"name": "partner", "label": "Partner", "column": "partner_name", "type": "string", "lookup": true, "description": "The partner Odoo recognised on the line; empty for bank fees, interest and unrecognised transfers.", "synonyms": ["customer", "customers", "vendor", "vendors", "supplier", "suppliers", "client", "clients", "payer", "payee", "counterparty", "who"]},
    {"name": "company", "label": "Company", "column": "company_name", "type": "string", "lookup": true, "description": "The ERP company whose bank account it is.", "synonyms": ["companies", "entity", "entities", "legal entity", "subsidiary", "business unit"]},
    {"name": "direction", "label": "Direction", "column": "direction", "type": "string", "lookup": true, "description": "received: money in; made: money out.", "synonyms": ["in or out", "received or made", "inflow or outflow"], "value_synonyms": {"received": ["in", "incoming", "inbound", "collected"], "made": ["out", "outgoing", "outbound"]}},
    {"name": "transaction_type", "label": "Transaction type", "column": "transaction_type", "type": "string", "lookup": true, "description": "The bank's transaction type (credit or debit transfer, bank charge, interest).", "synonyms": ["payment type", "payment method", "kind of transaction"]}
  ]$json$::jsonb,
  ARRAY['payments', 'bank payments', 'bank statement', 'bank statements', 'bank transactions', 'bank lines', 'remittances']::text[],
  '[]'::jsonb,
  ARRAY['ipai_company_allowed(company_id): admin; finance or auditor (only the companies in app_metadata.company_ids when that claim is set)']::text[]
)
ON CONFLICT (dataset) DO UPDATE SET
  source_view = EXCLUDED.source_view, description = EXCLUDED.description, grain = EXCLUDED.grain,
  measures = EXCLUDED.measures, dimensions = EXCLUDED.dimensions, synonyms = EXCLUDED.synonyms,
  default_filters = EXCLUDED.default_filters, rls_policy_refs = EXCLUDED.rls_policy_refs,
  is_active = true;

INSERT INTO public.ipai_semantic_model
  (dataset, source_view, description, grain, measures, dimensions, synonyms, default_filters,
   rls_policy_refs)
VALUES (
  'pull_requests',
  'ipai_gold_devops.pull_requests',
  'GitHub pull requests per repository, author and creation date: how many, open, merged or closed without merging, and the hours from opening to merge.',
  'pull request',
  $json$[
    {"name": "pull_request_count", "label": "Pull requests", "sql": "number", "aggregation": "count", "format": "number", "description": "Pull requests opened (in any state).", "synonyms": ["pull requests", "prs", "number of pull requests", "number of prs", "pr count", "pull request count", "pull requests opened", "prs opened", "prs created"]},
    {"name": "open_pull_requests", "label": "Open pull requests", "sql": "CASE WHEN state = 'open' THEN number END", "aggregation": "count", "format": "number", "description": "Pull requests still open.", "synonyms": ["open prs", "prs open", "pull requests open", "pending pull requests", "pending prs"]},
    {"name": "merged_pull_requests", "label": "Merged pull requests", "sql": "CASE WHEN is_merged THEN number END", "aggregation": "count", "format": "number", "description": "Pull requests merged.", "synonyms": ["merged prs", "prs merged", "pull requests merged", "merges", "number merged"]},
    {"name": "closed_unmerged_pull_requests", "label": "Closed unmerged pull requests", "sql": "CASE WHEN state = 'closed' AND NOT is_merged THEN number END", "aggregation": "count", "format": "number", "description": "Pull requests closed without being merged.", "synonyms": ["closed without merging", "closed without being merged", "closed unmerged", "rejected prs", "rejected pull requests", "abandoned prs", "abandoned pull requests", "declined pull requests"]},
    {"name": "avg_hours_to_merge", "label": "Average hours to merge", "sql": "hours_to_merge", "aggregation": "avg", "format": "duration", "description": "Hours from opening to merge, averaged over merged pull requests.", "synonyms": ["hours to merge", "time to merge", "average time to merge", "merge time", "how long to merge"]},
    {"name": "median_hours_to_merge", "label": "Median hours to merge", "sql": "percentile_cont(0.5) WITHIN GROUP (ORDER BY hours_to_merge)", "aggregation": "none", "format": "duration", "description": "The median of the hours from opening to merge over merged pull requests.", "synonyms": ["median time to merge", "typical time to merge", "p50 time to merge", "median merge time"]}
  ]$json$::jsonb,
  $json$[
    {"name": "created_at", "label": "Created at", "column": "created_at", "type": "time", "time_grains": ["week", "day", "month", "quarter", "year"], "description": "When the pull request was opened.", "synonyms": ["created", "opened", "opened at", "creation date", "date", "when"]},
    {"name": "merged_at", "label": "Merged at", "column": "merged_at", "type": "time", "time_grains": ["week", "day", "month", "quarter", "year"], "description": "When it was merged; empty if it was not.", "synonyms": ["merge date", "merged on"]},
    {"name": "repository", "label": "Repository", "column": "repository", "type": "string", "lookup": true, "description": "The GitHub repository.", "synonyms": ["repo", "repos", "repositories", "project", "service", "codebase", "code base"]},
    {"name": "author", "label": "Author", "column": "author", "type": "string", "lookup": true, "description": "The GitHub login that opened the pull request.", "synonyms": ["authors", "user", "developer", "developers", "engineer", "engineers", "contributor", "contributors", "person", "who"]},
    {"name": "state", "label": "State", "column": "state", "type": "string", "lookup": true, "description": "GitHub's state: open or closed (merged pull requests are closed).", "synonyms": ["status", "pr state", "pr status"]}
  ]$json$::jsonb,
  ARRAY['pull requests', 'pull request', 'prs', 'pr', 'code review', 'code reviews', 'merge requests']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(devops, analyst): admin, devops or analyst']::text[]
)
ON CONFLICT (dataset) DO UPDATE SET
  source_view = EXCLUDED.source_view, description = EXCLUDED.description, grain = EXCLUDED.grain,
  measures = EXCLUDED.measures, dimensions = EXCLUDED.dimensions, synonyms = EXCLUDED.synonyms,
  default_filters = EXCLUDED.default_filters, rls_policy_refs = EXCLUDED.rls_policy_refs,
  is_active = true;

-- The seeded models: each change names a field; the field of that name is replaced where it
-- stands, or the field is appended. (pg_temp: gone with the session, not a schema change.)
CREATE FUNCTION pg_temp.with_fields(items jsonb, changes jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT coalesce((SELECT jsonb_agg(coalesce(c.value, i.value) ORDER BY i.ordinality)
                     FROM jsonb_array_elements(items) WITH ORDINALITY AS i
                     LEFT JOIN jsonb_array_elements(changes) AS c
                       ON c.value ->> 'name' = i.value ->> 'name'), '[]'::jsonb)
      || coalesce((SELECT jsonb_agg(n.value ORDER BY n.ordinality)
                     FROM jsonb_array_elements(changes) WITH ORDINALITY AS n
                    WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(items) AS o
                                       WHERE o.value ->> 'name' = n.value ->> 'name')),
                  '[]'::jsonb)
$fn$;

-- Aging and open items: the company by name ("company" no longer names the id).
UPDATE public.ipai_semantic_model
   SET dimensions = pg_temp.with_fields(dimensions, $json$[
    {"name": "company_id", "label": "Company id", "column": "company_id", "type": "number", "description": "The ERP company's id.", "synonyms": ["company id", "company number"]},
    {"name": "company", "label": "Company", "column": "company_name", "type": "string", "lookup": true, "description": "The ERP company.", "synonyms": ["companies", "entity", "entities", "legal entity", "subsidiary", "business unit"]}
  ]$json$::jsonb)
 WHERE dataset IN ('aging', 'open_items');

-- Open items count open items; how many invoices were issued is `sales_invoices`' invoice count.
UPDATE public.ipai_semantic_model
   SET measures = pg_temp.with_fields(measures, $json$[
    {"name": "open_item_count", "label": "Open items", "sql": "line_id", "aggregation": "count", "format": "number", "description": "Open receivable and payable items (journal items with an amount left to pay).", "synonyms": ["open invoices", "bills", "number of open items", "number of open invoices", "open invoice count", "number of bills", "unpaid invoices"]}
  ]$json$::jsonb)
 WHERE dataset = 'open_items';

-- Open items: the aging bucket of each item, on the boundaries of ipai_gold_erp.aging (not due:
-- due today or later; then 1–30, 31–60, 61–90 and over 90 days past due).
UPDATE public.ipai_semantic_model
   SET dimensions = pg_temp.with_fields(dimensions, $json$[
    {"name": "aging_bucket", "label": "Aging bucket", "sql": "CASE WHEN days_overdue <= 0 THEN 'not due' WHEN days_overdue <= 30 THEN '1-30' WHEN days_overdue <= 60 THEN '31-60' WHEN days_overdue <= 90 THEN '61-90' ELSE '90+' END", "type": "string", "lookup": true, "description": "Days past due at the as-of day: not due, 1-30, 31-60, 61-90, 90+.", "synonyms": ["aging bucket", "ageing bucket", "age bucket", "aging band", "ageing band", "overdue bucket", "days overdue bucket"], "value_synonyms": {"not due": ["not yet due", "current"], "90+": ["over 90 days", "more than 90 days", "older than 90 days", "90 plus"]}}
  ]$json$::jsonb)
 WHERE dataset = 'open_items';

-- P&L: the line an account type rolls up to.
UPDATE public.ipai_semantic_model
   SET dimensions = pg_temp.with_fields(dimensions, $json$[
    {"name": "account_group", "label": "Account group", "sql": "CASE WHEN account_type = 'income' THEN 'Operating revenue' WHEN section = 'income' THEN 'Other income' WHEN account_type = 'expense_direct_cost' THEN 'Cost of revenue' WHEN account_type = 'expense_depreciation' THEN 'Depreciation' ELSE 'Operating expenses' END", "type": "string", "lookup": true, "description": "The P&L line an account type rolls up to: Operating revenue (income), Other income (other income types), Cost of revenue (direct costs), Depreciation, Operating expenses (other expense types).", "synonyms": ["account group", "p&l group", "p&l line", "pnl line", "income statement line", "account grouping", "revenue or expense group"]}
  ]$json$::jsonb)
 WHERE dataset = 'profit_and_loss';

-- DORA: the change failure rate over any group of repositories is pooled.
UPDATE public.ipai_semantic_model
   SET measures = pg_temp.with_fields(measures, $json$[
    {"name": "change_failure_rate", "label": "Change failure rate", "sql": "sum(failed_production_deployments)::numeric / nullif(sum(production_deployments), 0)", "aggregation": "none", "format": "percent", "description": "Failed production deployments ÷ production deployments, pooled over the repositories asked (not an average of their rates); for one repository, the view's rate unrounded.", "synonyms": ["cfr", "failure rate", "failed change rate", "change fail rate"]},
    {"name": "failed_production_deployments", "label": "Failed production deployments (synced period)", "sql": "failed_production_deployments", "aggregation": "sum", "format": "number", "description": "Production deployments whose outcome was a failure or an error.", "synonyms": ["failed production deployments", "production deployment failures", "failed prod deployments", "failed changes"]}
  ]$json$::jsonb)
 WHERE dataset = 'dora_summary';

DROP FUNCTION pg_temp.with_fields(jsonb, jsonb);
