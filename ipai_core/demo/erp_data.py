"""Deterministic ERP demo data: two companies' year of bookkeeping and projects, held as the
records Odoo 17's external API returns.

    demo = ErpDemo.generate(seed=7, reference_date=date(2026, 11, 1))
    demo.rows("account.move")          # [{"id": 1, "name": "MISC/2025/00001", ...}, ...]
    demo.touch("project.task", [3, 4], now, {"name": "Renamed"})   # for incremental tests
    demo.delete("account.move", [17])                                  # cascades to its lines

The year ends the day before `reference_date` (default: the 1st of the current month). Per company
(`IPAI Demo Manila`, `IPAI Demo Singapore`, both in USD): a chart of accounts, five journals
(sales, purchase, bank, cash, general), ~38 customer invoices and ~24 vendor bills a month with
product, 12% VAT and receivable/payable lines, customer and vendor payments in the bank journal
that settle most (not all) of them in full or in part, a few credit notes, drafts and cancelled
moves that gold must leave out, owner capital and a loan at the start, monthly depreciation,
payroll accruals and their payment, petty cash; plus ~46 partners and three projects with tasks.

The bank journal comes with its statement lines (`account.bank.statement.line`, one per bank move,
as Odoo 17 keeps them): payments already matched are reconciled lines. In the last
`BANK_WINDOW_DAYS` days before the reference date some invoices and bills were paid but nobody has
matched the transfer yet — an unreconciled line whose move waits on the bank suspense account while
the invoice stays open. The bank describes them as feeds do: the exact invoice number, a mangled
one or the customer's PO, a fee taken off the amount, no partner recognised, or one transfer for
several invoices of a partner; monthly fees, interest and transfer charges match nothing.

Invariants: every move balances to the cent (sum of debits = sum of credits), `balance = debit -
credit`; `amount_residual`, `reconciled`, `payment_state` and the move totals agree with what is
matched against each invoice, computed as Odoo 17 computes them. Every record but `res.company`
carries `company_id`.

Shapes (what `search_read` gives): many2one `[id, "display name"]` or `False`, many2many lists of
ids, dates `"YYYY-MM-DD"`, `False` for empty values, money as `Decimal` cents (the server sends
floats, as Odoo does). Datetimes are held as `"YYYY-MM-DD HH:MM:SS.ffffff"` UTC — the precision of
Odoo's database — and served cut to seconds, as Odoo serves them. Records saved in one transaction
share one timestamp (Odoo stamps `write_date` with the transaction's start), so equal
`write_date`s are common: the setup import, an invoice and its lines.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

Record = dict[str, Any]
FieldSpec = dict[str, Any]
DEFAULT_SEED = 7
VAT_PERCENT = 12

MODELS = (
    "res.company",
    "res.partner",
    "account.account",
    "account.journal",
    "account.move",
    "account.move.line",
    "project.project",
    "project.task",
    "account.bank.statement.line",
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ACCOUNT_TYPES = _words(
    "asset_receivable asset_cash asset_current asset_non_current asset_prepayments asset_fixed "
    "liability_payable liability_credit_card liability_current liability_non_current equity "
    "equity_unaffected income income_other expense expense_depreciation expense_direct_cost "
    "off_balance"
)

# The fields each model offers (what `fields_get` answers): `name:type[:relation|selection]`,
# selection values separated by `|`. Every model also has id, create_date and write_date.
_SCHEMA = {
    "res.company": "name:char currency_id:many2one:res.currency "
    "partner_id:many2one:res.partner country_id:many2one:res.country",
    "res.partner": "name:char ref:char is_company:boolean parent_id:many2one:res.partner "
    "customer_rank:integer supplier_rank:integer email:char vat:char city:char "
    "country_id:many2one:res.country company_id:many2one:res.company active:boolean",
    "account.account": f"code:char name:char account_type:selection:{'|'.join(ACCOUNT_TYPES)} "
    "internal_group:selection:asset|liability|equity|income|expense|off_balance "
    "reconcile:boolean deprecated:boolean currency_id:many2one:res.currency "
    "company_id:many2one:res.company",
    "account.journal": "name:char code:char type:selection:sale|purchase|cash|bank|general "
    "default_account_id:many2one:account.account currency_id:many2one:res.currency "
    "company_id:many2one:res.company active:boolean",
    "account.move": "name:char ref:char "
    "move_type:selection:entry|out_invoice|out_refund|in_invoice|in_refund|out_receipt|in_receipt "
    "state:selection:draft|posted|cancel "
    "payment_state:selection:not_paid|in_payment|paid|partial|reversed|invoicing_legacy "
    "date:date invoice_date:date invoice_date_due:date partner_id:many2one:res.partner "
    "journal_id:many2one:account.journal company_id:many2one:res.company "
    "currency_id:many2one:res.currency amount_untaxed:monetary amount_tax:monetary "
    "amount_total:monetary amount_residual:monetary amount_untaxed_signed:monetary "
    "amount_total_signed:monetary amount_residual_signed:monetary "
    "reversed_entry_id:many2one:account.move",
    "account.move.line": "move_id:many2one:account.move move_name:char "
    "parent_state:selection:draft|posted|cancel date:date date_maturity:date "
    "account_id:many2one:account.account partner_id:many2one:res.partner "
    "journal_id:many2one:account.journal company_id:many2one:res.company "
    "currency_id:many2one:res.currency name:char ref:char "
    "display_type:selection:product|cogs|tax|discount|rounding|payment_term|line_section|"
    "line_note|epd debit:monetary credit:monetary balance:monetary amount_currency:monetary "
    "amount_residual:monetary reconciled:boolean "
    "full_reconcile_id:many2one:account.full.reconcile matching_number:char",
    "account.bank.statement.line": "move_id:many2one:account.move "
    "statement_id:many2one:account.bank.statement journal_id:many2one:account.journal "
    "company_id:many2one:res.company currency_id:many2one:res.currency date:date "
    "payment_ref:char ref:char partner_id:many2one:res.partner partner_name:char "
    "account_number:char transaction_type:char amount:monetary amount_currency:monetary "
    "foreign_currency_id:many2one:res.currency amount_residual:float is_reconciled:boolean",
    "project.project": "name:char partner_id:many2one:res.partner user_id:many2one:res.users "
    "company_id:many2one:res.company date_start:date date:date allocated_hours:float "
    "active:boolean",
    "project.task": "name:char project_id:many2one:project.project "
    "stage_id:many2one:project.task.type "
    "state:selection:01_in_progress|02_changes_requested|03_approved|04_waiting_normal|"
    "1_done|1_canceled user_ids:many2many:res.users tag_ids:many2many:project.tags "
    "partner_id:many2one:res.partner company_id:many2one:res.company priority:selection:0|1 "
    "date_deadline:datetime date_assign:datetime date_end:datetime "
    "date_last_stage_update:datetime allocated_hours:float active:boolean",
}
_RELATIONAL = ("many2one", "many2many", "one2many")


def _spec(text: str) -> tuple[str, FieldSpec]:
    name, kind, *rest = text.split(":", 2)
    spec: FieldSpec = {"type": kind, "string": name.replace("_", " ").title(), "store": True}
    if kind in _RELATIONAL:
        spec["relation"] = rest[0]
    elif kind == "selection":
        spec["selection"] = [[v, v.replace("_", " ").title()] for v in rest[0].split("|")]
    return name, spec


FIELDS: dict[str, dict[str, FieldSpec]] = {
    model: dict(
        _spec(t)
        for t in ("id:integer", *spec.split(), "create_date:datetime", "write_date:datetime")
    )
    for model, spec in _SCHEMA.items()
}

USD = [2, "USD"]
USERS = ((2, "Alex Rivera"), (3, "Bea Santos"), (4, "Chen Wei"), (5, "Dara Lim"), (6, "Eli Cruz"))
STAGES = ((1, "New"), (2, "In Progress"), (3, "Review"), (4, "Done"))
TAGS = ((1, "Finance"), (2, "Integration"), (3, "Data"), (4, "UX"), (5, "Bug"))

_COMPANIES = (  # id, name, country, capital and monthly payroll in cents
    (1, "IPAI Demo Manila", [172, "Philippines"], 500_000_00, 38_000_00),
    (2, "IPAI Demo Singapore", [197, "Singapore"], 300_000_00, 45_000_00),
)
_ACCOUNTS = (
    ("101401", "Bank", "asset_cash"),
    ("101402", "Bank Suspense Account", "asset_current"),
    ("101501", "Cash", "asset_cash"),
    ("121000", "Account Receivable", "asset_receivable"),
    ("131000", "Tax Paid", "asset_current"),
    ("141000", "Prepayments", "asset_prepayments"),
    ("151000", "Fixed Assets", "asset_fixed"),
    ("152000", "Accumulated Depreciation", "asset_fixed"),
    ("211000", "Account Payable", "liability_payable"),
    ("221000", "Accrued Payroll", "liability_current"),
    ("251000", "Tax Received", "liability_current"),
    ("291000", "Long-term Loan", "liability_non_current"),
    ("301000", "Capital", "equity"),
    ("999999", "Undistributed Profits/Losses", "equity_unaffected"),
    ("400000", "Product Sales", "income"),
    ("401000", "Service Revenue", "income"),
    ("450000", "Other Income", "income_other"),
    ("500000", "Cost of Goods Sold", "expense_direct_cost"),
    ("600000", "General Expenses", "expense"),
    ("610000", "Rent", "expense"),
    ("620000", "Salaries", "expense"),
    ("630000", "Software & Cloud", "expense"),
    ("680000", "Depreciation", "expense_depreciation"),
)
_JOURNALS = (
    ("INV", "Customer Invoices", "sale", "400000"),
    ("BILL", "Vendor Bills", "purchase", "600000"),
    ("BNK1", "Bank", "bank", "101401"),
    ("CSH1", "Cash", "cash", "101501"),
    ("MISC", "Miscellaneous Operations", "general", None),
)
_WORDS = _words(
    "Aurora Banyan Cobalt Delta Evergreen Fjord Granite Harbor Ironwood Juniper Kestrel Lumen "
    "Meridian Nimbus Orchid Pinnacle Quartz Redwood Summit Tidal Umber Vertex Willow Zenith "
    "Amber Beacon Cedar Dune Ember Falcon Grove Helix Indigo Jade Krypton Lotus Maple Nova "
    "Opal Prism"
)
_CUSTOMER_KINDS = ("Retail", "Foods", "Logistics", "Clinics", "Hotels", "Telecom")
_VENDOR_KINDS = ("Properties", "Cloud Services", "Supplies", "Consulting", "Printing", "Freight")
_SALES = ("Implementation services", "Support subscription", "Licences", "Training day")
_PURCHASES = ("Office supplies", "Contractor hours", "Equipment", "Freight", "Utilities")
_CONTACTS = ("Maria Santos", "Jose Reyes", "Ana Cruz", "Wei Ling Tan")
_TASK_VERBS = ("Design", "Build", "Test", "Migrate", "Document", "Review", "Automate")
_TASK_OBJECTS = ("chart of accounts", "invoice import", "bank feed", "dashboard", "API", "ETL job")
_INVOICE_TYPES = ("out_invoice", "out_refund", "in_invoice", "in_refund")
_INBOUND = ("out_invoice", "in_refund")  # Odoo's inbound types: the partner owes us
_DRAFT_LABELS = {
    "out_invoice": "Draft Invoice",
    "out_refund": "Draft Credit Note",
    "in_invoice": "Draft Bill",
    "in_refund": "Draft Vendor Credit Note",
    "entry": "Draft Entry",
}
_RECONCILABLE = ("asset_receivable", "liability_payable")
# The bank feed: transfers in the last BANK_WINDOW_DAYS days that nobody has matched yet, and how
# the bank describes them (share of each kind, in percent).
BANK_WINDOW_DAYS = 45
_UNMATCHED_SHARE = 0.45
_TRANSFER_KINDS = {"exact": 40, "garbled": 20, "fee": 15, "no_partner": 10, "split": 15}
_ACCOUNT_PREFIX = {1: "PH", 2: "SG"}  # the partners' bank accounts, by company


def odoo_datetime(moment: datetime) -> str:
    """A datetime as Odoo's database holds it: naive UTC with microseconds."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def m2o(record: Record, label: str | None = None) -> list[Any]:
    """A many2one value pointing at `record`: `[id, display name]`."""
    return [record["id"], label if label is not None else record["name"]]


@dataclass
class ErpDemo:
    """The demo ERP database: `records[model][id]` in Odoo's external-API shapes."""

    seed: int
    reference_date: date
    records: dict[str, dict[int, Record]]
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @classmethod
    def generate(cls, *, seed: int = DEFAULT_SEED, reference_date: date | None = None) -> ErpDemo:
        reference = reference_date or datetime.now(UTC).date().replace(day=1)
        return cls(seed, reference, _Builder(seed, reference).build())

    def fields(self, model: str) -> Mapping[str, FieldSpec]:
        return FIELDS[model]

    def rows(self, model: str) -> list[Record]:
        """Copies of a model's records, by id."""
        with self.lock:
            return [dict(self.records[model][i]) for i in sorted(self.records[model])]

    def count(self, model: str) -> int:
        return len(self.records[model])

    def touch(
        self,
        model: str,
        ids: Iterable[int],
        now: datetime,
        changes: Mapping[str, Any] | None = None,
    ) -> None:
        """Write `changes` to records in one transaction at `now` (their new `write_date`)."""
        _check_fields(model, changes or {})
        stamp = odoo_datetime(now)
        with self.lock:
            for record_id in ids:
                self.records[model][record_id].update(changes or {}, write_date=stamp)

    def create(self, model: str, values: Mapping[str, Any], now: datetime) -> int:
        """A new record with the next id; fields not given are empty."""
        _check_fields(model, values)
        stamp = odoo_datetime(now)
        with self.lock:
            new_id = max(self.records[model], default=0) + 1
            record = _blank(model) | dict(values)
            record.update(id=new_id, create_date=stamp, write_date=stamp)
            self.records[model][new_id] = record
        return new_id

    def delete(self, model: str, ids: Iterable[int]) -> None:
        """Remove records; deleting a move removes its lines too, as Odoo's cascade does."""
        doomed = set(ids)
        with self.lock:
            for record_id in doomed:
                self.records[model].pop(record_id, None)
            if model == "account.move":
                for child in ("account.move.line", "account.bank.statement.line"):
                    lines = self.records[child]
                    for line_id in [i for i, r in lines.items() if r["move_id"][0] in doomed]:
                        del lines[line_id]


def _check_fields(model: str, values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(FIELDS[model]))
    if unknown:
        raise KeyError(f"`{model}` has no field(s) {unknown}")


def _blank(model: str) -> Record:
    return {
        name: [] if spec["type"] in ("many2many", "one2many") else False
        for name, spec in FIELDS[model].items()
    }


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _account_label(account: Record) -> str:
    return f"{account['code']} {account['name']}"


@dataclass(frozen=True)
class _Line:
    account: str
    debit: int = 0
    credit: int = 0
    kind: str = "product"  # Odoo's display_type: product, tax, payment_term
    label: str | bool = False
    partner: bool = True
    maturity: date | None = None


@dataclass(frozen=True)
class _BankText:
    """What the bank's feed says about a transaction; Odoo keeps it on the statement line."""

    payment_ref: str
    partner_name: str | bool = False
    account_number: str | bool = False
    transaction_type: str | bool = False


@dataclass
class _Company:
    record: Record
    payroll: int
    accounts: dict[str, Record] = field(default_factory=dict)
    journals: dict[str, Record] = field(default_factory=dict)
    customers: list[Record] = field(default_factory=list)
    vendors: list[Record] = field(default_factory=list)

    @property
    def pair(self) -> list[Any]:
        return m2o(self.record)


class _Builder:
    """Builds the records by replaying the year's events in date order, so ids and sequence
    numbers grow with time as in a real database."""

    def __init__(self, seed: int, reference: date) -> None:
        self.rng = random.Random(seed)  # demo data, not secrets
        self.end = reference
        self.start = _year_before(reference)
        self.records: dict[str, dict[int, Record]] = {m: {} for m in MODELS}
        self._ids = {m: itertools.count(1) for m in MODELS}
        self._sequences: dict[tuple[int, str, int], int] = {}
        self._full = itertools.count(1)
        self._partial = itertools.count(1)
        self._events: list[tuple[date, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._lines: dict[int, list[Record]] = {}
        self._matched: dict[int, list[Record]] = {}
        self._partial_numbers: dict[int, str] = {}
        self._left_open: dict[tuple[int, int], list[Record]] = {}
        self._statements: dict[tuple[int, str], int] = {}

    def build(self) -> dict[str, dict[int, Record]]:
        companies = self._setup(self._stamp(self.start - timedelta(days=14)))
        for company in companies:
            self._plan_year(company)
        while self._events:
            _, _, event = heapq.heappop(self._events)
            event()
        self._partner_changes(companies)
        self._projects(companies)
        return self.records

    # -- plumbing ------------------------------------------------------------------------------

    def _add(self, model: str, values: Record) -> Record:
        record = _blank(model) | values
        record["id"] = next(self._ids[model])
        self.records[model][record["id"]] = record
        return record

    def _stamp(self, day: date, *, after: str = "") -> str:
        """A moment of `day` between 01:00 and 10:00 UTC (office hours in Manila), never before
        `after` and never on or after the reference date."""
        day = min(day, self.end - timedelta(days=1))
        offset = timedelta(
            seconds=self.rng.randrange(9 * 3600), microseconds=self.rng.randrange(10**6)
        )
        return max(odoo_datetime(datetime.combine(day, time(1)) + offset), after)

    def _day_in_year(self) -> date:
        return self.start + timedelta(days=self.rng.randrange((self.end - self.start).days))

    def _at(self, day: date, event: Callable[[], object]) -> None:
        if day < self.end:
            heapq.heappush(self._events, (day, next(self._order), event))

    # -- setup: one import transaction ---------------------------------------------------------

    def _setup(self, stamp: str) -> list[_Company]:
        when = {"create_date": stamp, "write_date": stamp}
        companies = []
        for cid, name, country, _, payroll in _COMPANIES:
            partner = self._add(
                "res.partner",
                {"name": name, "is_company": True, "city": country[1], "country_id": country}
                | {"email": f"finance@company{cid}.example", "company_id": [cid, name]}
                | {"active": True}
                | when,
            )
            record = self._add(
                "res.company",
                {"name": name, "currency_id": USD, "partner_id": m2o(partner)}
                | {"country_id": country}
                | when,
            )
            companies.append(_Company(record, payroll))
        for company in companies:
            self._chart(company, when)
        words = self.rng.sample(_WORDS, 40)
        for number, word in enumerate(words):
            self._partner(companies[0 if number % 5 < 3 else 1], number, word, when)
        return companies

    def _chart(self, company: _Company, when: Record) -> None:
        for code, name, kind in _ACCOUNTS:
            group = "off_balance" if kind == "off_balance" else kind.split("_")[0]
            company.accounts[code] = self._add(
                "account.account",
                {"code": code, "name": name, "account_type": kind, "internal_group": group}
                | {"reconcile": kind in _RECONCILABLE, "deprecated": False}
                | {"company_id": company.pair}
                | when,
            )
        for code, name, kind, default in _JOURNALS:
            account = company.accounts[default] if default else None
            company.journals[code] = self._add(
                "account.journal",
                {"name": name, "code": code, "type": kind, "active": True}
                | {
                    "default_account_id": m2o(account, _account_label(account))
                    if account
                    else False
                }
                | {"company_id": company.pair}
                | when,
            )

    def _partner(self, company: _Company, number: int, word: str, when: Record) -> None:
        customer = number % 8 < 5
        kinds = _CUSTOMER_KINDS if customer else _VENDOR_KINDS
        ordinal = len(company.customers if customer else company.vendors)
        name = f"{word} {kinds[ordinal % len(kinds)]} {'Inc.' if customer else 'Co.'}"
        country = company.record["country_id"]
        record = self._add(
            "res.partner",
            {"name": name, "ref": f"{'C' if customer else 'V'}{number + 1:04d}"}
            | {
                "is_company": True,
                "customer_rank": int(customer),
                "supplier_rank": int(not customer),
            }
            | {"email": f"billing@{word.lower()}.example", "vat": f"VAT-{10_000 + number * 37}"}
            | {"city": country[1], "country_id": country, "company_id": company.pair}
            | {"active": True}
            | when,
        )
        (company.customers if customer else company.vendors).append(record)

    # -- the year ------------------------------------------------------------------------------

    def _plan_year(self, co: _Company) -> None:
        capital = next(c[3] for c in _COMPANIES if c[0] == co.record["id"])
        start, day2 = self.start, self.start + timedelta(days=1)
        self._plan_entry(co, "MISC", start, "Owner capital", ("101401", "301000", capital))
        if co.record["id"] == 1:
            self._plan_entry(co, "MISC", start, "Bank loan", ("101401", "291000", 200_000_00))
        self._plan_entry(co, "MISC", day2, "Office fit-out", ("151000", "101401", 120_000_00))
        self._plan_entry(co, "CSH1", day2, "Petty cash float", ("101501", "101401", 5_000_00))
        first = start.replace(day=1)
        while first < self.end:
            following = (first + timedelta(days=32)).replace(day=1)
            self._plan_month(co, first, following)
            first = following
        late = self.end - timedelta(days=3)
        bonus = ("620000", "221000", 9_000_00)
        self._plan_entry(co, "MISC", late, "Bonus accrual (to review)", bonus, state="draft")
        twice = ("610000", "221000", 6_500_00)
        self._plan_entry(co, "MISC", late, "Duplicate rent accrual", twice, state="cancel")
        self._plan_bank_charges(co)

    def _plan_month(self, co: _Company, first: date, following: date) -> None:
        lo, hi = max(first, self.start), min(following, self.end)
        share = (hi - lo).days / (following - first).days
        for kind, count in (("out_invoice", 38), ("in_invoice", 22)):
            for _ in range(round(count * share)):
                day = lo + timedelta(days=self.rng.randrange((hi - lo).days))
                self._at(day, partial(self._invoice, co, kind, day))
        for day, account in ((first, "610000"), (first + timedelta(days=2), "630000")):
            if day >= self.start:
                self._at(day, partial(self._recurring_bill, co, day, account))
        month_end, pay_day = following - timedelta(days=1), following + timedelta(days=4)
        payroll = co.payroll + self.rng.randrange(-1_000_00, 1_000_00)
        self._plan_entry(co, "MISC", month_end, "Depreciation", ("680000", "152000", 2_000_00))
        self._plan_entry(co, "MISC", month_end, "Payroll accrual", ("620000", "221000", payroll))
        self._plan_entry(co, "BNK1", pay_day, "Payroll payment", ("221000", "101401", payroll))
        petty = first + timedelta(days=14)
        if petty >= self.start:
            spent = self.rng.randrange(150_00, 450_00)
            self._plan_entry(co, "CSH1", petty, "Petty cash expenses", ("600000", "101501", spent))

    def _plan_entry(
        self,
        co: _Company,
        journal: str,
        day: date,
        label: str,
        booking: tuple[str, str, int],
        *,
        state: str = "posted",
    ) -> None:
        """A two-line entry without partner: debit the first account, credit the second."""
        debit, credit, amount = booking
        lines = [_Line(debit, amount, label=label), _Line(credit, 0, amount, label=label)]
        self._at(day, partial(self._move, co, journal, "entry", day, None, lines, state=state))

    # -- moves ---------------------------------------------------------------------------------

    def _move(
        self,
        co: _Company,
        journal: str,
        move_type: str,
        day: date,
        partner: Record | None,
        lines: list[_Line],
        *,
        state: str = "posted",
        ref: str | bool = False,
        reversed_entry: Record | None = None,
        due: date | None = None,
        bank: _BankText | None = None,
    ) -> Record:
        stamp = self._stamp(day)
        invoice = move_type in _INVOICE_TYPES
        move = self._add(
            "account.move",
            {"name": "/" if state == "draft" else self._sequence(co, journal, move_type, day)}
            | {"ref": ref or (lines[0].label if not invoice else False)}
            | {"move_type": move_type, "state": state, "payment_state": "not_paid"}
            | {"date": day.isoformat(), "invoice_date": invoice and day.isoformat()}
            | {"invoice_date_due": invoice and (due or day).isoformat()}
            | {"partner_id": m2o(partner) if partner else False, "currency_id": USD}
            | {"journal_id": m2o(co.journals[journal]), "company_id": co.pair}
            | {"reversed_entry_id": m2o(reversed_entry) if reversed_entry else False}
            | {"create_date": stamp, "write_date": stamp},
        )
        label = move["name"]
        if state == "draft":
            label = f"{_DRAFT_LABELS[move_type]} (* {move['id']})"
        self._lines[move["id"]] = [
            self._line(co, move, [move["id"], label], partner, spec) for spec in lines
        ]
        self._totals(move)
        if journal == "BNK1" and state == "posted":
            self._statement_line(co, move, partner, bank)
        return move

    def _line(
        self, co: _Company, move: Record, pair: list[Any], partner: Record | None, spec: _Line
    ) -> Record:
        account = co.accounts[spec.account]
        balance = money(spec.debit - spec.credit)
        open_item = account["account_type"] in (*_RECONCILABLE, "asset_cash")
        return self._add(
            "account.move.line",
            {"move_id": pair, "move_name": move["name"], "parent_state": move["state"]}
            | {"date": move["date"], "ref": move["ref"], "name": spec.label}
            | {"date_maturity": spec.maturity.isoformat() if spec.maturity else False}
            | {"account_id": m2o(account, _account_label(account))}
            | {"partner_id": m2o(partner) if partner and spec.partner else False}
            | {"journal_id": move["journal_id"], "company_id": co.pair, "currency_id": USD}
            | {"display_type": spec.kind, "debit": money(spec.debit), "credit": money(spec.credit)}
            | {"balance": balance, "amount_currency": balance}
            | {"amount_residual": balance if open_item else money(0), "reconciled": False}
            | {"create_date": move["create_date"], "write_date": move["write_date"]},
        )

    def _sequence(self, co: _Company, journal: str, move_type: str, day: date) -> str:
        prefix = f"R{journal}" if move_type.endswith("refund") else journal
        key = (co.record["id"], prefix, day.year)
        self._sequences[key] = self._sequences.get(key, 0) + 1
        return f"{prefix}/{day.year}/{self._sequences[key]:05d}"

    def _totals(self, move: Record) -> None:
        """Odoo 17's `_compute_amount`: the move's totals from its lines, signed by direction."""
        lines = self._lines[move["id"]]
        zero = money(0)

        def total(kinds: tuple[str, ...], key: str = "balance") -> Decimal:
            return sum((x[key] for x in lines if x["display_type"] in kinds), zero)

        if move["move_type"] not in _INVOICE_TYPES:
            debits = sum((x["balance"] for x in lines if x["debit"]), zero)
            move.update(amount_untaxed=zero, amount_tax=zero, amount_total=debits)
            move.update(amount_untaxed_signed=zero, amount_total_signed=abs(debits))
            move.update(amount_residual=zero, amount_residual_signed=zero)
            return
        untaxed, tax = total(("product",)), total(("tax",))
        residual = total(("payment_term",), "amount_residual")
        sign = -1 if move["move_type"] in _INBOUND else 1
        move.update(amount_untaxed=sign * untaxed, amount_tax=sign * tax)
        move.update(amount_total=sign * (untaxed + tax), amount_residual=-sign * residual)
        move.update(amount_untaxed_signed=-untaxed, amount_total_signed=-(untaxed + tax))
        move.update(amount_residual_signed=residual)

    # -- invoices and bills --------------------------------------------------------------------

    def _invoice(self, co: _Company, move_type: str, day: date) -> None:
        rng = self.rng
        customer = move_type == "out_invoice"
        partner = rng.choice(co.customers if customer else co.vendors[2:])
        low, high = (500_00, 9_000_00) if customer else (200_00, 5_000_00)
        amounts = [rng.randrange(low, high) for _ in range(1 if rng.random() < 0.75 else 2)]
        accounts = ("400000", "401000") if customer else ("600000", "500000", "630000")
        labels = _SALES if customer else _PURCHASES
        products = [_Line(rng.choice(accounts), label=rng.choice(labels)) for _ in amounts]
        draw = rng.random()
        state = "draft" if draw < 0.02 else "cancel" if draw < 0.03 else "posted"
        ref: str | bool = f"VINV-{rng.randrange(100_000, 999_999)}"
        if customer:
            ref = f"PO-{rng.randrange(10_000, 99_999)}" if rng.random() < 0.5 else False
        taxed = rng.random() < 0.75
        move = self._document(co, move_type, day, partner, products, amounts, taxed, state, ref)
        if state == "posted":
            self._plan_settlement(co, move, day)

    def _recurring_bill(self, co: _Company, day: date, account: str) -> None:
        rent = account == "610000"
        vendor = co.vendors[0 if rent else 1]
        amount = (6_500_00 if co.record["id"] == 1 else 9_000_00) if rent else None
        amount = amount or self.rng.randrange(800_00, 2_500_00)
        label = "Office rent" if rent else "Cloud hosting"
        product = [_Line(account, label=label)]
        ref = f"{label} {day:%Y-%m}"
        move = self._document(co, "in_invoice", day, vendor, product, [amount], not rent, ref=ref)
        pay_day = day + timedelta(days=5)
        self._at(pay_day, partial(self._pay, co, move, None, pay_day))

    def _document(
        self,
        co: _Company,
        move_type: str,
        day: date,
        partner: Record,
        products: list[_Line],
        amounts: list[int],
        taxed: bool,
        state: str = "posted",
        ref: str | bool = False,
    ) -> Record:
        """An invoice or bill: product lines, a VAT line, then the receivable or payable line."""
        inbound = move_type in _INBOUND
        untaxed = sum(amounts)
        tax = (untaxed * VAT_PERCENT + 50) // 100 if taxed else 0
        due = day + timedelta(days=self.rng.choice((15, 30, 30, 45)))

        def side(amount: int) -> tuple[int, int]:  # (debit, credit) of a product or tax line
            return (0, amount) if inbound else (amount, 0)

        lines = [
            _Line(p.account, *side(amount), label=p.label)
            for p, amount in zip(products, amounts, strict=True)
        ]
        if tax:
            vat = "251000" if move_type.startswith("out") else "131000"
            lines.append(_Line(vat, *side(tax), kind="tax", label=f"VAT {VAT_PERCENT}%"))
        counterpart = "121000" if move_type.startswith("out") else "211000"
        credit, debit = side(untaxed + tax)
        lines.append(_Line(counterpart, debit, credit, kind="payment_term", maturity=due))
        journal = "INV" if move_type.startswith("out") else "BILL"
        return self._move(
            co, journal, move_type, day, partner, lines, state=state, ref=ref, due=due
        )

    # -- settlement ----------------------------------------------------------------------------

    def _plan_settlement(self, co: _Company, move: Record, day: date) -> None:
        """Most invoices get paid (some in two parts), a few reversed, the rest stay open."""
        rng = self.rng
        draw = rng.random()
        if draw < 0.015:
            when = day + timedelta(days=rng.randint(3, 20))
            self._at(when, partial(self._reverse, co, move, when))
        elif draw < 0.72:
            customer = move["move_type"] == "out_invoice"
            when = day + timedelta(days=rng.randint(3, 75) if customer else rng.randint(5, 45))
            recent = self.end - timedelta(days=BANK_WINDOW_DAYS) <= when < self.end
            if recent and rng.random() < _UNMATCHED_SHARE:
                self._at(when, partial(self._bank_transfer, co, move, when))
            else:
                self._at(when, partial(self._pay, co, move, None, when))
        elif draw < 0.84:
            first = day + timedelta(days=rng.randint(5, 40))
            part = cents(move["amount_total"]) * rng.randint(30, 80) // 100
            self._at(first, partial(self._pay, co, move, part, first))
            if rng.random() < 0.5:
                later = first + timedelta(days=rng.randint(10, 60))
                self._at(later, partial(self._pay, co, move, None, later))
        else:  # nothing settles it: left open, and free to be paid along with another one
            key = (co.record["id"], move["partner_id"][0])
            self._left_open.setdefault(key, []).append(move)

    def _pay(self, co: _Company, invoice: Record, amount: int | None, day: date) -> None:
        """A payment entry in the bank journal, matched against `invoice` (None: all that is
        still due)."""
        due = abs(cents(self._open_line(invoice)["amount_residual"]))
        amount = due if amount is None else min(amount, due)
        if amount <= 0:
            return
        customer = invoice["move_type"] == "out_invoice"
        label = f"{'Customer' if customer else 'Vendor'} payment {invoice['name']}"
        bank = _Line("101401", amount, 0, label=label)
        if customer:
            lines = [bank, _Line("121000", 0, amount, "payment_term", label)]
        else:
            lines = [
                _Line("211000", amount, 0, "payment_term", label),
                _Line("101401", 0, amount, label=label),
            ]
        partner = self.records["res.partner"][invoice["partner_id"][0]]
        payment = self._move(co, "BNK1", "entry", day, partner, lines, ref=invoice["name"])
        self._match(invoice, payment, day)

    # -- the bank statement --------------------------------------------------------------------

    def _statement_line(
        self, co: _Company, move: Record, partner: Record | None, text: _BankText | None
    ) -> None:
        """Odoo 17 keeps each bank transaction as a statement line over its own move: the bank
        line and the counterpart, which stays on the suspense account until someone matches it.
        A payment booked against an invoice is such a move, already matched."""
        bank, suspense = co.accounts["101401"]["id"], co.accounts["101402"]["id"]
        lines = self._lines[move["id"]]
        amount = sum((x["balance"] for x in lines if x["account_id"][0] == bank), money(0))
        matched = all(x["account_id"][0] != suspense for x in lines)
        text = text or self._bank_text(co, partner, str(move["ref"] or ""), amount > 0)
        month = move["date"][:7]
        key = (co.record["id"], month)
        statement = self._statements.setdefault(key, len(self._statements) + 1)
        self._add(
            "account.bank.statement.line",
            {"move_id": m2o(move), "statement_id": [statement, f"BNK1 Statement {month}"]}
            | {"journal_id": move["journal_id"], "company_id": co.pair, "currency_id": USD}
            | {"date": move["date"], "payment_ref": text.payment_ref, "ref": move["ref"]}
            | {"partner_id": move["partner_id"], "partner_name": text.partner_name}
            | {"account_number": text.account_number, "transaction_type": text.transaction_type}
            | {"amount": amount, "amount_residual": 0.0 if matched else float(-amount)}
            | {"is_reconciled": matched}
            | {"create_date": move["create_date"], "write_date": move["write_date"]},
        )

    def _bank_text(
        self, co: _Company, partner: Record | None, reference: str, inbound: bool
    ) -> _BankText:
        kind = "CREDIT TRANSFER" if inbound else "DEBIT TRANSFER"
        if partner is None:
            return _BankText(reference, transaction_type=kind)
        number = f"{_ACCOUNT_PREFIX[co.record['id']]}{partner['id'] * 7_368_787 % 10**12:012d}"
        return _BankText(reference, str(partner["name"]).upper(), number, kind)

    def _unmatched(
        self, co: _Company, day: date, partner: Record | None, amount: int, text: _BankText
    ) -> None:
        """A bank transaction nobody has matched yet: the bank line against the suspense
        account, as Odoo books a new statement line."""
        debit, credit = ("101401", "101402") if amount > 0 else ("101402", "101401")
        label = text.payment_ref
        lines = [_Line(debit, abs(amount), label=label), _Line(credit, 0, abs(amount), label=label)]
        self._move(co, "BNK1", "entry", day, partner, lines, bank=text)

    def _bank_transfer(self, co: _Company, invoice: Record, day: date) -> None:
        """The partner paid (or we paid) `invoice`; only the bank statement knows so far, and it
        describes the transfer as real feeds do: the exact number, a mangled one, a fee taken
        off, no partner recognised, or several invoices paid at once. The invoice stays open."""
        rng = self.rng
        partner = self.records["res.partner"][invoice["partner_id"][0]]
        kind = rng.choices(list(_TRANSFER_KINDS), list(_TRANSFER_KINDS.values()))[0]
        documents = [invoice, *(self._claim_open(co, partner, day) if kind == "split" else [])]
        if kind == "split" and len(documents) == 1:
            kind = "exact"
        due = sum(abs(cents(self._open_line(d)["amount_residual"])) for d in documents)
        fee = rng.randrange(8_00, 35_00) if kind == "fee" else 0
        inbound = invoice["move_type"] == "out_invoice"
        amount = due - fee if inbound else -(due + fee)
        mangled = kind == "garbled" or (kind == "no_partner" and rng.random() < 0.5)
        reference = self._garbled(invoice) if mangled else self._quoted(documents, partner)
        text = self._bank_text(co, partner, reference, inbound)
        if kind == "no_partner":
            shown = rng.choice((False, str(partner["name"]).upper()[:12].rstrip()))
            text = _BankText(reference, shown, False, text.transaction_type)
        self._unmatched(co, day, None if kind == "no_partner" else partner, amount, text)

    def _claim_open(self, co: _Company, partner: Record, day: date) -> list[Record]:
        """One or two of the partner's invoices that nothing else settles, paid along."""
        waiting = self._left_open.get((co.record["id"], partner["id"]), [])
        chosen = [m for m in waiting if m["date"] <= day.isoformat()][: self.rng.randint(1, 2)]
        for move in chosen:
            waiting.remove(move)
        return chosen

    def _quoted(self, documents: list[Record], partner: Record) -> str:
        names = " ".join(str(d["name"]) for d in documents)
        template = self.rng.choice(("{names}", "PAYMENT {names}", "{names} {who}"))
        return template.format(names=names, who=str(partner["name"]).split()[0].upper())

    def _garbled(self, invoice: Record) -> str:
        """The invoice's number as people and bank forms mangle it, or the customer's own PO."""
        prefix, year, number = str(invoice["name"]).split("/")
        options = [
            f"{prefix}{year}{number}",
            f"{prefix} {year} {int(number)}",
            f"{prefix}/{year[2:]}/{number}",
            f"{prefix}/{year}/{number[:-2]}{number[-1]}{number[-2]}",
        ]
        ref = invoice["ref"]
        if isinstance(ref, str) and ref.startswith("PO-"):
            options.append(f"PO {ref[3:]}")
        return f"{self.rng.choice(('', 'PMT ', 'REF '))}{self.rng.choice(options)}"

    def _plan_bank_charges(self, co: _Company) -> None:
        """Fees and interest on the statement's recent lines: they match no invoice or bill."""
        first = self.end - timedelta(days=BANK_WINDOW_DAYS)
        fee = _BankText("MONTHLY ACCOUNT FEE", transaction_type="BANK CHARGE")
        interest = _BankText("INTEREST CREDIT", transaction_type="INTEREST")
        for offset in range(BANK_WINDOW_DAYS):
            day = first + timedelta(days=offset)
            if (day + timedelta(days=1)).day == 1:
                self._at(day, partial(self._unmatched, co, day, None, -25_00, fee))
                earned = self.rng.randrange(3_00, 60_00)
                self._at(day, partial(self._unmatched, co, day, None, earned, interest))
        charge = _BankText("OUTWARD TT CHARGE", transaction_type="BANK CHARGE")
        for _ in range(3):
            day = first + timedelta(days=self.rng.randrange(BANK_WINDOW_DAYS))
            amount = -self.rng.randrange(5_00, 20_00)
            self._at(day, partial(self._unmatched, co, day, None, amount, charge))

    def _reverse(self, co: _Company, invoice: Record, day: date) -> None:
        """A credit note for the whole invoice, matched against it (payment_state `reversed`)."""
        accounts = self.records["account.account"]
        lines = [
            _Line(
                accounts[x["account_id"][0]]["code"],
                cents(x["credit"]),
                cents(x["debit"]),
                x["display_type"],
                x["name"],
                maturity=day if x["display_type"] == "payment_term" else None,
            )
            for x in self._lines[invoice["id"]]
        ]
        refund_type = "out_refund" if invoice["move_type"] == "out_invoice" else "in_refund"
        journal = "INV" if refund_type == "out_refund" else "BILL"
        partner = self.records["res.partner"][invoice["partner_id"][0]]
        ref = f"Reversal of: {invoice['name']}"
        refund = self._move(
            co, journal, refund_type, day, partner, lines, ref=ref, reversed_entry=invoice, due=day
        )
        self._match(invoice, refund, day, reversal=True)

    def _open_line(self, move: Record) -> Record:
        return next(x for x in self._lines[move["id"]] if x["display_type"] == "payment_term")

    def _match(
        self, invoice: Record, counter: Record, day: date, *, reversal: bool = False
    ) -> None:
        """Reconcile the counterpart's receivable/payable line with the invoice's."""
        own, other = self._open_line(invoice), self._open_line(counter)
        own["amount_residual"] += other["amount_residual"]
        other.update(amount_residual=money(0), reconciled=True)
        matched = self._matched.setdefault(invoice["id"], [])
        matched.append(other)
        stamp = counter["write_date"]
        if own["amount_residual"] == 0:
            number = next(self._full)
            for line in (own, *matched):
                line.update(full_reconcile_id=[number, str(number)], matching_number=str(number))
                line.update(reconciled=True, write_date=stamp)
            recent = day >= self.end - timedelta(days=7)
            invoice["payment_state"] = (
                "reversed" if reversal else "in_payment" if recent else "paid"
            )
            if reversal:
                counter["payment_state"] = "paid"
        else:
            number_text = self._partial_numbers.setdefault(invoice["id"], f"P{next(self._partial)}")
            for line in (own, *matched):
                line.update(matching_number=number_text, write_date=stamp)
            invoice["payment_state"] = "partial"
        self._totals(invoice)
        self._totals(counter)
        invoice["write_date"] = counter["write_date"] = stamp

    # -- partners and projects -----------------------------------------------------------------

    def _partner_changes(self, companies: list[_Company]) -> None:
        """Contacts added during the year, a few customers edited, one archived."""
        for person, co in zip(_CONTACTS, itertools.cycle(companies), strict=False):
            parent = self.rng.choice(co.customers)
            stamp = self._stamp(self._day_in_year())
            self._add(
                "res.partner",
                {"name": person, "is_company": False, "parent_id": m2o(parent)}
                | {"email": f"{person.split()[0].lower()}@{parent['email'].split('@')[1]}"}
                | {"city": parent["city"], "country_id": parent["country_id"]}
                | {"company_id": co.pair, "active": True}
                | {"create_date": stamp, "write_date": stamp},
            )
        customers = [p for co in companies for p in co.customers]
        for partner in self.rng.sample(customers, 5):
            email = partner["email"].replace("billing@", "accounts@")
            partner.update(email=email, write_date=self._stamp(self._day_in_year()))
        customers[-1].update(active=False, write_date=self._stamp(self.end - timedelta(days=20)))

    def _projects(self, companies: list[_Company]) -> None:
        for name, index, billable in (
            ("ERP Rollout", 0, True),
            ("Data Platform", 0, False),
            ("Website Revamp", 1, True),
        ):
            co = companies[index]
            started = self.start + timedelta(days=self.rng.randrange(60))
            customer = self.rng.choice(co.customers) if billable else None
            created = self._stamp(started)
            project = self._add(
                "project.project",
                {"name": name, "partner_id": m2o(customer) if customer else False}
                | {"user_id": list(self.rng.choice(USERS)), "company_id": co.pair}
                | {"date_start": started.isoformat()}
                | {"date": billable and (started + timedelta(days=330)).isoformat()}
                | {"allocated_hours": float(self.rng.randrange(400, 1200, 50)), "active": True}
                | {"create_date": created, "write_date": created},
            )
            for _ in range(self.rng.randint(25, 35)):
                self._task(co, project, started, customer)
            project["write_date"] = self._stamp(self._day_in_year(), after=created)

    def _task(self, co: _Company, project: Record, started: date, customer: Record | None) -> None:
        rng = self.rng
        day = started + timedelta(days=rng.randrange((self.end - started).days))
        created = self._stamp(day)
        done = rng.random() < min(0.9, (self.end - day).days / 200)
        states = ("01_in_progress", "01_in_progress", "02_changes_requested", "03_approved")
        state = "1_done" if done else rng.choice((*states, "04_waiting_normal"))
        if not done and rng.random() < 0.06:
            state = "1_canceled"
        finished = self._stamp(day + timedelta(days=rng.randint(2, 40)), after=created)
        last = (
            finished
            if done
            else self._stamp(day + timedelta(days=rng.randint(0, 20)), after=created)
        )
        deadline = datetime.combine(day + timedelta(days=rng.randint(7, 45)), time(10))
        self._add(
            "project.task",
            {"name": f"{rng.choice(_TASK_VERBS)} {rng.choice(_TASK_OBJECTS)}"}
            | {
                "project_id": m2o(project),
                "stage_id": list(STAGES[3] if done else rng.choice(STAGES[:3])),
            }
            | {"state": state, "priority": "1" if rng.random() < 0.2 else "0"}
            | {"user_ids": sorted(u for u, _ in rng.sample(USERS, rng.randint(1, 2)))}
            | {"tag_ids": sorted(t for t, _ in rng.sample(TAGS, rng.randint(0, 2)))}
            | {"partner_id": m2o(customer) if customer else False, "company_id": co.pair}
            | {"date_deadline": rng.random() < 0.8 and odoo_datetime(deadline)}
            | {"date_assign": created, "date_end": done and finished}
            | {"date_last_stage_update": last, "active": state != "1_canceled"}
            | {"allocated_hours": float(rng.choice((2, 4, 8, 16, 24, 40)))}
            | {"create_date": created, "write_date": last},
        )
