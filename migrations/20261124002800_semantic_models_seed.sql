-- Semantic models (issue 6) over the gold ERP, DevOps, retail and creative views: measures (an SQL
-- expression over the view's columns and its aggregation; `none` for ratios that aggregate by
-- themselves), dimensions (a column, its type, time grains for dates), synonyms that Genie matches
-- questions against, default filters and the RLS policies that guard each view. Genie and the
-- MCP tools compile queries over these with ipai_core.semantic; rows stay under the views' RLS.
-- Re-running upserts by dataset, so an edited definition replaces the seeded one.

INSERT INTO public.ipai_semantic_model
  (dataset, source_view, description, grain, measures, dimensions, synonyms, default_filters,
   rls_policy_refs)
VALUES (
  'profit_and_loss',
  'ipai_gold_erp.profit_and_loss',
  'Income and expenses per company, month and account type, from posted journal items in Odoo.',
  'company × month × account type',
  $json$[
    {"name": "revenue", "label": "Revenue", "sql": "CASE WHEN section = 'income' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["income", "sales", "turnover", "top line", "revenues", "total income", "invoiced sales"]},
    {"name": "expenses", "label": "Expenses", "sql": "CASE WHEN section = 'expense' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["expense", "costs", "total costs", "spending", "expenditure", "opex", "operating expenses"]},
    {"name": "net_profit", "label": "Net profit", "sql": "CASE WHEN section = 'income' THEN amount ELSE -amount END", "aggregation": "sum", "format": "currency", "synonyms": ["profit", "net income", "earnings", "bottom line", "net result", "net earnings", "profitability", "loss"]},
    {"name": "gross_profit", "label": "Gross profit", "sql": "CASE WHEN section = 'income' THEN amount WHEN account_type = 'expense_direct_cost' THEN -amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["gross income", "gross earnings"]},
    {"name": "cost_of_sales", "label": "Cost of sales", "sql": "CASE WHEN account_type = 'expense_direct_cost' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["cost of goods sold", "cogs", "direct costs", "cost of revenue"]},
    {"name": "depreciation", "label": "Depreciation", "sql": "CASE WHEN account_type = 'expense_depreciation' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["amortisation", "amortization", "depreciation expense"]},
    {"name": "net_margin", "label": "Net margin", "sql": "sum(CASE WHEN section = 'income' THEN amount ELSE -amount END) / nullif(sum(CASE WHEN section = 'income' THEN amount ELSE 0 END), 0)", "aggregation": "none", "format": "percent", "synonyms": ["profit margin", "net profit margin", "margin", "net margin"]},
    {"name": "gross_margin", "label": "Gross margin", "sql": "sum(CASE WHEN section = 'income' THEN amount WHEN account_type = 'expense_direct_cost' THEN -amount ELSE 0 END) / nullif(sum(CASE WHEN section = 'income' THEN amount ELSE 0 END), 0)", "aggregation": "none", "format": "percent", "synonyms": ["gross margin", "gross profit margin", "gross margin percentage"]}
  ]$json$::jsonb,
  $json$[
    {"name": "month", "label": "Month", "column": "month", "type": "date", "time_grains": ["month", "quarter", "year"], "synonyms": ["period", "date", "accounting period"]},
    {"name": "company", "label": "Company", "column": "company_name", "type": "string", "lookup": true, "synonyms": ["companies", "entity", "entities", "legal entity", "subsidiary", "business unit"]},
    {"name": "section", "label": "Section", "column": "section", "type": "string", "synonyms": ["income or expense", "p&l section"]},
    {"name": "account_type", "label": "Account type", "column": "account_type", "type": "string", "synonyms": ["account category", "expense type", "line item", "type of account"]}
  ]$json$::jsonb,
  ARRAY['p&l', 'pnl', 'income statement', 'profit and loss statement', 'statement of operations', 'financial results', 'operating results', 'earnings report']::text[],
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
  'balance_sheet',
  'ipai_gold_erp.balance_sheet_monthly',
  'Month-end balance sheet per company, section and account type (assets = liabilities + equity); the latest month-end unless a period is asked for.',
  'company × month end × account type',
  $json$[
    {"name": "total_assets", "label": "Total assets", "sql": "CASE WHEN section = 'asset' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["assets", "asset base"]},
    {"name": "total_liabilities", "label": "Total liabilities", "sql": "CASE WHEN section = 'liability' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["liabilities", "debt", "obligations"]},
    {"name": "total_equity", "label": "Total equity", "sql": "CASE WHEN section = 'equity' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["equity", "shareholders equity", "owners equity", "book value"]},
    {"name": "cash_balance", "label": "Cash balance", "sql": "CASE WHEN account_type = 'asset_cash' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["cash", "cash position", "cash on hand", "bank balance", "cash and bank", "cash in the bank", "money in the bank"]},
    {"name": "receivables_balance", "label": "Receivables balance", "sql": "CASE WHEN account_type = 'asset_receivable' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["accounts receivable balance", "receivable balance", "trade receivables"]},
    {"name": "payables_balance", "label": "Payables balance", "sql": "CASE WHEN account_type = 'liability_payable' THEN amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["accounts payable balance", "payable balance", "trade payables"]},
    {"name": "working_capital", "label": "Working capital", "sql": "CASE WHEN account_type IN ('asset_cash', 'asset_receivable', 'asset_current') THEN amount WHEN account_type IN ('liability_payable', 'liability_current') THEN -amount ELSE 0 END", "aggregation": "sum", "format": "currency", "synonyms": ["net working capital", "liquidity position"]}
  ]$json$::jsonb,
  $json$[
    {"name": "month_end", "label": "Month end", "column": "month_end", "type": "date", "time_grains": ["month"], "synonyms": ["month end", "period end", "as of", "balance date"]},
    {"name": "company", "label": "Company", "column": "company_name", "type": "string", "lookup": true, "synonyms": ["companies", "entity", "entities", "legal entity", "subsidiary", "business unit"]},
    {"name": "section", "label": "Section", "column": "section", "type": "string", "synonyms": ["balance sheet section"]},
    {"name": "account_type", "label": "Account type", "column": "account_type", "type": "string", "synonyms": ["account category", "type of account"]}
  ]$json$::jsonb,
  ARRAY['balance sheet', 'financial position', 'statement of financial position', 'net worth', 'balances']::text[],
  '[{"field": "month_end", "op": "latest"}]'::jsonb,
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
  'cash_flow',
  'ipai_gold_erp.cash_flow',
  'Cash and bank inflow, outflow and net change per company and month.',
  'company × month',
  $json$[
    {"name": "net_cash_flow", "label": "Net cash flow", "sql": "net_change", "aggregation": "sum", "format": "currency", "synonyms": ["net cash flow", "net change in cash", "net cash", "cash generated", "cash flow", "cash burn", "burn"]},
    {"name": "cash_inflow", "label": "Cash inflow", "sql": "inflow", "aggregation": "sum", "format": "currency", "synonyms": ["inflow", "inflows", "cash receipts", "receipts", "cash received", "collections"]},
    {"name": "cash_outflow", "label": "Cash outflow", "sql": "outflow", "aggregation": "sum", "format": "currency", "synonyms": ["outflow", "outflows", "cash out", "cash payments", "cash spent", "money out", "disbursements", "cash paid", "payments"]}
  ]$json$::jsonb,
  $json$[
    {"name": "month", "label": "Month", "column": "month", "type": "date", "time_grains": ["month", "quarter", "year"], "synonyms": ["period", "date"]},
    {"name": "company", "label": "Company", "column": "company_name", "type": "string", "lookup": true, "synonyms": ["companies", "entity", "entities", "legal entity", "subsidiary", "business unit"]}
  ]$json$::jsonb,
  ARRAY['cash flow', 'cashflow', 'cash flows', 'cash movements', 'money movements']::text[],
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
  'aging',
  'ipai_gold_erp.aging',
  'Open receivables and payables per partner in aging buckets: not yet due, 1–30, 31–60, 61–90 and over 90 days overdue.',
  'company × receivable/payable × partner',
  $json$[
    {"name": "total_open", "label": "Open balance", "sql": "total_open", "aggregation": "sum", "format": "currency", "synonyms": ["open balance", "outstanding balance", "outstanding", "amount owed", "owed", "owe", "owes", "balance due", "total outstanding", "exposure"]},
    {"name": "overdue", "label": "Overdue", "sql": "coalesce(days_0_30, 0) + coalesce(days_31_60, 0) + coalesce(days_61_90, 0) + coalesce(days_90_plus, 0)", "aggregation": "sum", "format": "currency", "synonyms": ["overdue amount", "past due", "late", "overdue balance", "arrears", "late payments"]},
    {"name": "not_due", "label": "Not yet due", "sql": "not_due", "aggregation": "sum", "format": "currency", "synonyms": ["not due", "current balance", "within terms"]},
    {"name": "overdue_1_30", "label": "1–30 days overdue", "sql": "days_0_30", "aggregation": "sum", "format": "currency", "synonyms": ["0-30 days", "1-30 days", "up to 30 days", "less than 30 days"]},
    {"name": "overdue_31_60", "label": "31–60 days overdue", "sql": "days_31_60", "aggregation": "sum", "format": "currency", "synonyms": ["31-60 days", "30-60 days", "30 to 60 days"]},
    {"name": "overdue_61_90", "label": "61–90 days overdue", "sql": "days_61_90", "aggregation": "sum", "format": "currency", "synonyms": ["61-90 days", "60-90 days", "60 to 90 days"]},
    {"name": "overdue_90_plus", "label": "Over 90 days overdue", "sql": "days_90_plus", "aggregation": "sum", "format": "currency", "synonyms": ["90+ days", "over 90 days", "more than 90 days", "older than 90 days", "90 days plus", "seriously overdue", "severely overdue"]},
    {"name": "partner_count", "label": "Partners with open items", "sql": "partner_id", "aggregation": "count_distinct", "format": "number", "synonyms": ["number of partners", "partner count", "number of customers", "customer count", "number of vendors", "number of debtors"]}
  ]$json$::jsonb,
  $json$[
    {"name": "kind", "label": "Receivable or payable", "column": "kind", "type": "string", "lookup": true, "synonyms": ["side", "ar or ap"], "value_synonyms": {"receivable": ["customer", "client", "debtor", "receivables", "accounts receivable", "ar"], "payable": ["vendor", "supplier", "creditor", "payables", "accounts payable", "ap"]}},
    {"name": "partner", "label": "Partner", "column": "partner_name", "type": "string", "lookup": true, "synonyms": ["customer", "client", "vendor", "supplier", "debtor", "creditor", "counterparty", "who"]},
    {"name": "company_id", "label": "Company id", "column": "company_id", "type": "number", "synonyms": ["company", "entity"]}
  ]$json$::jsonb,
  ARRAY['aging', 'ageing', 'aged receivables', 'aged payables', 'aging report', 'ageing report', 'owe', 'owes', 'owed', 'debtors', 'creditors', 'accounts receivable', 'accounts payable', 'receivables', 'payables', 'collections risk', 'credit risk']::text[],
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
  'open_items',
  'ipai_gold_erp.open_items',
  'Open receivable and payable items — invoices and bills with an amount left to pay — with their due date and days overdue.',
  'journal item',
  $json$[
    {"name": "open_amount", "label": "Open amount", "sql": "open_amount", "aggregation": "sum", "format": "currency", "synonyms": ["unpaid amount", "amount due", "residual", "amount outstanding", "amount left to pay", "due amount"]},
    {"name": "open_item_count", "label": "Open items", "sql": "line_id", "aggregation": "count", "format": "number", "synonyms": ["open invoices", "invoices", "bills", "number of invoices", "number of open items", "count of invoices", "invoice count", "number of bills", "unpaid invoices"]},
    {"name": "avg_days_overdue", "label": "Average days overdue", "sql": "days_overdue", "aggregation": "avg", "format": "number", "synonyms": ["days overdue", "average days late", "days late", "average age", "dso", "average delay"]},
    {"name": "max_days_overdue", "label": "Most days overdue", "sql": "days_overdue", "aggregation": "max", "format": "number", "synonyms": ["oldest", "oldest invoice", "maximum days overdue", "longest overdue", "oldest item"]}
  ]$json$::jsonb,
  $json$[
    {"name": "kind", "label": "Receivable or payable", "column": "kind", "type": "string", "lookup": true, "synonyms": ["side", "ar or ap"], "value_synonyms": {"receivable": ["customer", "client", "debtor", "receivables", "accounts receivable", "ar"], "payable": ["vendor", "supplier", "creditor", "payables", "accounts payable", "ap"]}},
    {"name": "partner", "label": "Partner", "column": "partner_name", "type": "string", "lookup": true, "synonyms": ["customer", "client", "vendor", "supplier", "debtor", "creditor", "counterparty", "who"]},
    {"name": "company_id", "label": "Company id", "column": "company_id", "type": "number", "synonyms": ["company", "entity"]},
    {"name": "document", "label": "Document", "column": "move_name", "type": "string", "synonyms": ["invoice number", "bill number", "document number", "reference", "invoice"]},
    {"name": "invoice_date", "label": "Invoice date", "column": "date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "synonyms": ["invoice date", "document date", "date", "issued"]},
    {"name": "due_date", "label": "Due date", "column": "due_date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "synonyms": ["due", "maturity", "due date", "falling due"]}
  ]$json$::jsonb,
  ARRAY['open items', 'open invoices', 'unpaid invoices', 'unpaid bills', 'open bills', 'invoices', 'bills', 'outstanding invoices', 'unpaid', 'open documents', 'due dates']::text[],
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
  'dora_summary',
  'ipai_gold_devops.dora_summary',
  'The four DORA metrics per repository — deployment frequency, lead time for changes, change failure rate, time to restore — with their performance levels (elite, high, medium, low).',
  'repository',
  $json$[
    {"name": "deployment_frequency", "label": "Deployment frequency (per week)", "sql": "deployments_per_week", "aggregation": "avg", "format": "number", "synonyms": ["deployment frequency", "deploy frequency", "release frequency", "how often we deploy", "how often do we deploy"]},
    {"name": "median_lead_time_hours", "label": "Median lead time for changes (h)", "sql": "median_lead_time_hours", "aggregation": "avg", "format": "duration", "synonyms": ["lead time for changes", "dora lead time"]},
    {"name": "change_failure_rate", "label": "Change failure rate", "sql": "change_failure_rate", "aggregation": "avg", "format": "percent", "synonyms": ["cfr", "failure rate", "failed change rate", "change fail rate"]},
    {"name": "median_time_to_restore_hours", "label": "Median time to restore (h)", "sql": "median_time_to_restore_hours", "aggregation": "avg", "format": "duration", "synonyms": ["dora time to restore", "median time to restore"]},
    {"name": "production_deployments", "label": "Production deployments (synced period)", "sql": "production_deployments", "aggregation": "sum", "format": "number", "synonyms": ["total production deployments"]}
  ]$json$::jsonb,
  $json$[
    {"name": "repository", "label": "Repository", "column": "repository", "type": "string", "lookup": true, "synonyms": ["repo", "project", "service", "codebase", "code base"]},
    {"name": "deployment_frequency_level", "label": "Deployment frequency level", "column": "deployment_frequency_level", "type": "string", "synonyms": ["deployment frequency performance"]},
    {"name": "lead_time_level", "label": "Lead time level", "column": "lead_time_level", "type": "string", "synonyms": ["lead time performance"]},
    {"name": "change_failure_level", "label": "Change failure level", "column": "change_failure_level", "type": "string", "synonyms": ["change failure performance"]},
    {"name": "restore_level", "label": "Time to restore level", "column": "restore_level", "type": "string", "synonyms": ["restore performance"]}
  ]$json$::jsonb,
  ARRAY['dora', 'dora metrics', 'four key metrics', 'devops performance', 'engineering performance', 'delivery performance', 'performance level', 'elite', 'software delivery performance']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(devops, analyst): admin, devops or analyst']::text[]
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
  'deployments_weekly',
  'ipai_gold_devops.deployments_weekly',
  'GitHub deployments per repository, environment and week, with successes and failures; production only unless an environment is named.',
  'repository × environment × week',
  $json$[
    {"name": "deployments", "label": "Deployments", "sql": "deployments", "aggregation": "sum", "format": "number", "synonyms": ["deploys", "number of deployments", "deployment count", "rollouts", "releases", "shipped"]},
    {"name": "successful_deployments", "label": "Successful deployments", "sql": "successful", "aggregation": "sum", "format": "number", "synonyms": ["successful deploys", "green deployments", "deployment successes"]},
    {"name": "failed_deployments", "label": "Failed deployments", "sql": "failed", "aggregation": "sum", "format": "number", "synonyms": ["failed deploys", "deployment failures", "broken deployments", "unsuccessful deployments"]},
    {"name": "deployment_success_rate", "label": "Deployment success rate", "sql": "sum(successful)::numeric / nullif(sum(deployments), 0)", "aggregation": "none", "format": "percent", "synonyms": ["deploy success rate", "deployment success rate"]}
  ]$json$::jsonb,
  $json$[
    {"name": "week", "label": "Week", "column": "week", "type": "date", "time_grains": ["week", "month", "quarter", "year"], "synonyms": ["date", "period"]},
    {"name": "repository", "label": "Repository", "column": "repository", "type": "string", "lookup": true, "synonyms": ["repo", "project", "service", "codebase", "code base"]},
    {"name": "environment", "label": "Environment", "column": "environment", "type": "string", "lookup": true, "synonyms": ["env", "stage", "target environment", "environments"]}
  ]$json$::jsonb,
  ARRAY['deployments', 'deploys', 'deployment', 'releases', 'rollouts', 'shipping', 'ship']::text[],
  '[{"field": "environment", "op": "=", "value": "production"}]'::jsonb,
  ARRAY['ipai_has_any_role(devops, analyst): admin, devops or analyst']::text[]
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
  'lead_time',
  'ipai_gold_devops.lead_time',
  'Lead time for changes per merged pull request: from opening the PR to the first successful production deployment after its merge.',
  'pull request',
  $json$[
    {"name": "avg_lead_time_hours", "label": "Average lead time (h)", "sql": "lead_time_hours", "aggregation": "avg", "format": "duration", "synonyms": ["lead time", "average lead time", "mean lead time", "cycle time", "time to production", "time to ship"]},
    {"name": "median_lead_time_hours", "label": "Median lead time (h)", "sql": "percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_hours)", "aggregation": "none", "format": "duration", "synonyms": ["median lead time", "typical lead time", "p50 lead time"]},
    {"name": "p90_lead_time_hours", "label": "90th percentile lead time (h)", "sql": "percentile_cont(0.9) WITHIN GROUP (ORDER BY lead_time_hours)", "aggregation": "none", "format": "duration", "synonyms": ["p90 lead time", "90th percentile lead time"]},
    {"name": "max_lead_time_hours", "label": "Longest lead time (h)", "sql": "lead_time_hours", "aggregation": "max", "format": "duration", "synonyms": ["longest lead time", "maximum lead time", "slowest change"]},
    {"name": "changes_deployed", "label": "Changes deployed", "sql": "number", "aggregation": "count", "format": "number", "synonyms": ["changes", "number of changes", "merged prs", "merged pull requests", "pull requests deployed", "prs deployed", "number of pull requests"]}
  ]$json$::jsonb,
  $json$[
    {"name": "deployed_at", "label": "Deployed at", "column": "deployed_at", "type": "time", "time_grains": ["week", "day", "month", "quarter", "year"], "synonyms": ["deployment date", "deployed", "release date", "date"]},
    {"name": "merged_at", "label": "Merged at", "column": "merged_at", "type": "time", "time_grains": ["week", "day", "month", "quarter", "year"], "synonyms": ["merge date", "merged"]},
    {"name": "repository", "label": "Repository", "column": "repository", "type": "string", "lookup": true, "synonyms": ["repo", "project", "service", "codebase", "code base"]},
    {"name": "pull_request", "label": "Pull request", "column": "number", "type": "number", "synonyms": ["pr", "pr number", "pull request number"]}
  ]$json$::jsonb,
  ARRAY['lead time', 'pull requests', 'prs', 'merged pull requests', 'cycle time', 'time to production', 'changes']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(devops, analyst): admin, devops or analyst']::text[]
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
  'ci_weekly',
  'ipai_gold_devops.ci_weekly',
  'CI workflow runs per repository and week: runs decided, successful, success rate and median duration.',
  'repository × week',
  $json$[
    {"name": "ci_runs", "label": "CI runs", "sql": "decided_runs", "aggregation": "sum", "format": "number", "synonyms": ["runs", "builds", "number of builds", "pipeline runs", "workflow runs", "build count"]},
    {"name": "successful_runs", "label": "Successful runs", "sql": "successful_runs", "aggregation": "sum", "format": "number", "synonyms": ["successful builds", "green builds", "passing builds"]},
    {"name": "failed_runs", "label": "Failed runs", "sql": "decided_runs - successful_runs", "aggregation": "sum", "format": "number", "synonyms": ["failed builds", "red builds", "broken builds", "build failures", "ci failures", "failing builds"]},
    {"name": "ci_success_rate", "label": "CI success rate", "sql": "sum(successful_runs)::numeric / nullif(sum(decided_runs), 0)", "aggregation": "none", "format": "percent", "synonyms": ["success rate", "build success rate", "pass rate", "green rate", "build health", "ci health"]},
    {"name": "median_build_minutes", "label": "Median build time (min)", "sql": "median_duration_s / 60.0", "aggregation": "avg", "format": "duration", "synonyms": ["build time", "build duration", "ci duration", "pipeline duration", "run time", "how long builds take"]}
  ]$json$::jsonb,
  $json$[
    {"name": "week", "label": "Week", "column": "week", "type": "date", "time_grains": ["week", "month", "quarter", "year"], "synonyms": ["date", "period"]},
    {"name": "repository", "label": "Repository", "column": "repository", "type": "string", "lookup": true, "synonyms": ["repo", "project", "service", "codebase", "code base"]}
  ]$json$::jsonb,
  ARRAY['ci', 'continuous integration', 'builds', 'build', 'pipelines', 'pipeline', 'workflow runs', 'github actions', 'test runs']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(devops, analyst): admin, devops or analyst']::text[]
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
  'incidents',
  'ipai_gold_devops.incidents',
  'Failed production deployments (incidents) and the hours until production was restored by the next successful deployment.',
  'failed production deployment',
  $json$[
    {"name": "incidents", "label": "Incidents", "sql": "failed_deployment_id", "aggregation": "count", "format": "number", "synonyms": ["number of incidents", "incident count", "outages", "failures in production"]},
    {"name": "avg_time_to_restore_hours", "label": "Average time to restore (h)", "sql": "restore_hours", "aggregation": "avg", "format": "duration", "synonyms": ["time to restore", "mttr", "mean time to restore", "mean time to recovery", "time to recover", "recovery time", "restore time"]},
    {"name": "max_time_to_restore_hours", "label": "Longest time to restore (h)", "sql": "restore_hours", "aggregation": "max", "format": "duration", "synonyms": ["longest outage", "maximum time to restore", "worst outage", "longest time to restore", "longest incident"]},
    {"name": "downtime_hours", "label": "Downtime (h)", "sql": "restore_hours", "aggregation": "sum", "format": "duration", "synonyms": ["downtime", "total downtime", "hours of downtime"]},
    {"name": "unresolved_incidents", "label": "Unresolved incidents", "sql": "count(*) FILTER (WHERE restored_at IS NULL)", "aggregation": "none", "format": "number", "synonyms": ["unresolved incidents", "open incidents", "ongoing incidents"]}
  ]$json$::jsonb,
  $json$[
    {"name": "failed_at", "label": "Failed at", "column": "failed_at", "type": "time", "time_grains": ["week", "day", "month", "quarter", "year"], "synonyms": ["date", "failure date", "incident date", "when"]},
    {"name": "restored_at", "label": "Restored at", "column": "restored_at", "type": "time", "time_grains": ["week", "day", "month", "quarter", "year"], "synonyms": ["restore date", "recovery date"]},
    {"name": "repository", "label": "Repository", "column": "repository", "type": "string", "lookup": true, "synonyms": ["repo", "project", "service", "codebase", "code base"]}
  ]$json$::jsonb,
  ARRAY['incidents', 'incident', 'outages', 'outage', 'production failures', 'production incidents', 'downtime', 'recovery']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(devops, analyst): admin, devops or analyst']::text[]
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
  'spec_kit_coverage',
  'ipai_gold_devops.spec_kit_coverage',
  'Spec Kit files (constitution, PRD, plan, tasks) expected and present per repository and feature.',
  'repository × feature',
  $json$[
    {"name": "spec_coverage", "label": "Spec Kit coverage", "sql": "coalesce(sum(present_files)::numeric / nullif(sum(expected_files), 0), 0)", "aggregation": "none", "format": "percent", "synonyms": ["coverage", "spec coverage", "documentation coverage", "completeness"]},
    {"name": "missing_files", "label": "Missing spec files", "sql": "expected_files - present_files", "aggregation": "sum", "format": "number", "synonyms": ["missing files", "missing specs", "missing documents", "gaps"]},
    {"name": "present_files", "label": "Spec files present", "sql": "present_files", "aggregation": "sum", "format": "number", "synonyms": ["files present", "present files"]},
    {"name": "expected_files", "label": "Spec files expected", "sql": "expected_files", "aggregation": "sum", "format": "number", "synonyms": ["expected files", "required files"]},
    {"name": "feature_count", "label": "Number of features", "sql": "nullif(feature, '')", "aggregation": "count_distinct", "format": "number", "synonyms": ["number of features", "feature count"]}
  ]$json$::jsonb,
  $json$[
    {"name": "repository", "label": "Repository", "column": "repository", "type": "string", "lookup": true, "synonyms": ["repo", "project", "service", "codebase", "code base"]},
    {"name": "feature", "label": "Feature", "column": "feature", "type": "string", "lookup": true, "synonyms": ["features", "spec", "specification"]}
  ]$json$::jsonb,
  ARRAY['spec kit', 'spec-kit', 'specs', 'specifications', 'spec files', 'prd', 'constitution', 'documentation']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(devops, analyst): admin, devops or analyst']::text[]
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
  'sales_daily',
  'ipai_gold_retail.sales_daily',
  'Retail point-of-sale revenue, units, transactions and discounts per day, store and product category.',
  'day × store × category',
  $json$[
    {"name": "revenue", "label": "Revenue", "sql": "revenue", "aggregation": "sum", "format": "currency", "synonyms": ["sales", "net sales", "takings", "turnover", "store revenue", "retail revenue", "sales amount"]},
    {"name": "units", "label": "Units sold", "sql": "units", "aggregation": "sum", "format": "number", "synonyms": ["units", "items sold", "quantity", "volume", "pieces", "sold"]},
    {"name": "transactions", "label": "Transactions", "sql": "transactions", "aggregation": "sum", "format": "number", "synonyms": ["receipts", "tickets", "baskets", "number of sales", "orders", "footfall"]},
    {"name": "discounts", "label": "Discounts", "sql": "discounts", "aggregation": "sum", "format": "currency", "synonyms": ["discount", "markdowns", "price reductions"]},
    {"name": "average_basket", "label": "Average basket", "sql": "sum(revenue) / nullif(sum(transactions), 0)", "aggregation": "none", "format": "currency", "synonyms": ["average basket", "basket size", "average transaction value", "atv", "average ticket", "average sale", "average order value", "aov", "spend per transaction"]},
    {"name": "discount_rate", "label": "Discount rate", "sql": "sum(discounts) / nullif(sum(revenue) + sum(discounts), 0)", "aggregation": "none", "format": "percent", "synonyms": ["discount rate", "discount share", "markdown rate"]}
  ]$json$::jsonb,
  $json$[
    {"name": "day", "label": "Day", "column": "day", "type": "date", "time_grains": ["day", "week", "month", "quarter", "year"], "synonyms": ["date", "sales date"]},
    {"name": "store", "label": "Store", "column": "store_code", "type": "string", "lookup": true, "synonyms": ["shop", "branch", "outlet", "location", "store code", "stores"]},
    {"name": "category", "label": "Category", "column": "category", "type": "string", "lookup": true, "synonyms": ["product category", "department", "product line", "categories"]}
  ]$json$::jsonb,
  ARRAY['retail', 'store sales', 'shop sales', 'pos', 'point of sale', 'stores', 'shops', 'retail sales', 'basket', 'tills', 'sold']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(retail, analyst): admin, retail or analyst']::text[]
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
  'campaign_performance',
  'ipai_gold_retail.campaign_performance',
  'Marketing campaigns with channel, dates, budget, attributed store revenue and transactions, and ROI.',
  'campaign',
  $json$[
    {"name": "campaign_revenue", "label": "Attributed revenue", "sql": "revenue", "aggregation": "sum", "format": "currency", "synonyms": ["attributed revenue", "campaign revenue", "revenue", "sales"]},
    {"name": "budget", "label": "Budget", "sql": "budget", "aggregation": "sum", "format": "currency", "synonyms": ["campaign budget", "marketing budget", "marketing spend", "investment"]},
    {"name": "roi", "label": "ROI", "sql": "(sum(revenue) - sum(budget)) / nullif(sum(budget), 0)", "aggregation": "none", "format": "percent", "synonyms": ["return on investment", "return", "payback", "marketing roi"]},
    {"name": "campaign_transactions", "label": "Attributed transactions", "sql": "transactions", "aggregation": "sum", "format": "number", "synonyms": ["attributed transactions", "campaign transactions", "transactions"]},
    {"name": "campaign_count", "label": "Number of campaigns", "sql": "campaign_code", "aggregation": "count", "format": "number", "synonyms": ["number of campaigns", "campaign count"]}
  ]$json$::jsonb,
  $json$[
    {"name": "campaign", "label": "Campaign", "column": "name", "type": "string", "lookup": true, "synonyms": ["campaign name", "campaigns"]},
    {"name": "campaign_code", "label": "Campaign code", "column": "campaign_code", "type": "string", "lookup": true, "synonyms": ["code"]},
    {"name": "channel", "label": "Channel", "column": "channel", "type": "string", "lookup": true, "synonyms": ["marketing channel", "medium", "channels"]},
    {"name": "start_date", "label": "Start date", "column": "start_date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "synonyms": ["launch date", "started", "launched", "start"]},
    {"name": "end_date", "label": "End date", "column": "end_date", "type": "date", "time_grains": ["month", "day", "week", "quarter", "year"], "synonyms": ["ended", "end"]}
  ]$json$::jsonb,
  ARRAY['campaigns', 'campaign', 'marketing', 'promotions', 'promos', 'marketing campaigns', 'return on marketing']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(retail, marketing, analyst): admin, retail, marketing or analyst']::text[]
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
  'creative_effectiveness',
  'ipai_gold_creative.creative_effectiveness',
  'Creative assets'' delivery and response per creative, campaign and format: impressions, clicks, conversions, spend, CTR, conversion rate and cost per conversion.',
  'creative × campaign × format',
  $json$[
    {"name": "impressions", "label": "Impressions", "sql": "impressions", "aggregation": "sum", "format": "number", "synonyms": ["views", "reach", "ad views", "eyeballs"]},
    {"name": "clicks", "label": "Clicks", "sql": "clicks", "aggregation": "sum", "format": "number", "synonyms": ["click"]},
    {"name": "conversions", "label": "Conversions", "sql": "conversions", "aggregation": "sum", "format": "number", "synonyms": ["conversion", "signups", "acquisitions"]},
    {"name": "spend", "label": "Spend", "sql": "spend", "aggregation": "sum", "format": "currency", "synonyms": ["ad spend", "media spend", "cost", "media cost", "spent"]},
    {"name": "ctr", "label": "Click-through rate", "sql": "sum(clicks)::numeric / nullif(sum(impressions), 0)", "aggregation": "none", "format": "percent", "synonyms": ["ctr", "click through rate", "click rate"]},
    {"name": "conversion_rate", "label": "Conversion rate", "sql": "sum(conversions)::numeric / nullif(sum(clicks), 0)", "aggregation": "none", "format": "percent", "synonyms": ["cvr", "conversion ratio"]},
    {"name": "cost_per_conversion", "label": "Cost per conversion", "sql": "sum(spend) / nullif(sum(conversions), 0)", "aggregation": "none", "format": "currency", "synonyms": ["cpa", "cost per acquisition", "cost per signup"]},
    {"name": "cpm", "label": "Cost per thousand impressions", "sql": "sum(spend) * 1000 / nullif(sum(impressions), 0)", "aggregation": "none", "format": "currency", "synonyms": ["cpm"]},
    {"name": "creative_count", "label": "Number of creatives", "sql": "creative_id", "aggregation": "count_distinct", "format": "number", "synonyms": ["number of creatives", "creative count"]}
  ]$json$::jsonb,
  $json$[
    {"name": "creative", "label": "Creative", "column": "creative_id", "type": "string", "lookup": true, "synonyms": ["asset", "ad", "creative id", "ads", "creatives"]},
    {"name": "campaign", "label": "Campaign", "column": "campaign_code", "type": "string", "lookup": true, "synonyms": ["campaign code", "campaigns"]},
    {"name": "format", "label": "Format", "column": "format", "type": "string", "lookup": true, "synonyms": ["creative format", "ad format", "formats"]}
  ]$json$::jsonb,
  ARRAY['creatives', 'creative', 'ads', 'ad', 'assets', 'creative effectiveness', 'advertising', 'ad performance', 'media', 'creative performance']::text[],
  '[]'::jsonb,
  ARRAY['ipai_has_any_role(creative, marketing, analyst): admin, creative, marketing or analyst']::text[]
)
ON CONFLICT (dataset) DO UPDATE SET
  source_view = EXCLUDED.source_view, description = EXCLUDED.description, grain = EXCLUDED.grain,
  measures = EXCLUDED.measures, dimensions = EXCLUDED.dimensions, synonyms = EXCLUDED.synonyms,
  default_filters = EXCLUDED.default_filters, rls_policy_refs = EXCLUDED.rls_policy_refs,
  is_active = true;

COMMENT ON COLUMN public.ipai_semantic_model.measures IS
  'Array of {name, label, sql, aggregation (sum|avg|count|count_distinct|min|max|none), format (currency|number|percent|duration), synonyms}.';
COMMENT ON COLUMN public.ipai_semantic_model.dimensions IS
  'Array of {name, label, column | sql, type (string|number|date|time), time_grains, lookup, synonyms}.';
COMMENT ON COLUMN public.ipai_semantic_model.default_filters IS
  'Array of {field, op, value} applied unless the query filters or groups by that field (op latest: the last value, e.g. the latest month-end).';
COMMENT ON COLUMN public.ipai_semantic_model.rls_policy_refs IS
  'The access functions that guard the source view, and who they let through (shown when a user sees no rows).';
