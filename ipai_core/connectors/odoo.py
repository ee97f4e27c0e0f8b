"""Odoo CE connector: models read over Odoo's external JSON-RPC API into bronze, one stream each.

Config (`connector_type = "odoo"`): `url` (the server's base address), `database`, `username`,
`password_secret` (the vault reference of the password or API key), `models`, `target_schema`
(typically `ipai_bronze_erp`). Requests are `POST {url}/jsonrpc` with `common.authenticate` once,
then `object.execute_kw(db, uid, password, model, "search_read", [domain], {fields, order, limit,
context})`; the context has `active_test: false` (archived records are synced, not mistaken for
deleted ones) and, with `company_ids`, `allowed_company_ids`.

Bronze layout — the interface silver and gold build on. One table per model, named after it with
dots as underscores (`account.move` → `account_move`); primary key `id`. Columns: `id`, the
model's synced fields in this order, then `write_date`, `create_date` (timestamptz, UTC), then the
framework's `_ipai_synced_at`, `_ipai_run_id`, `_ipai_deleted`. A many2one field `x_id` (or `x`)
becomes two columns, `x_id` (bigint) and `x_name` (text, Odoo's display name: for accounts
`"121000 Account Receivable"`, for draft moves `"Draft Invoice (* 42)"`; `x_id_display_name` if
the model has a field `x_name` of its own). Types follow the
server's `fields_get`: char/text/selection → text, integer → bigint, float → double precision,
monetary → numeric(20,4) (exact; every ISO currency fits), boolean → boolean, date → date,
datetime → timestamptz, many2many/one2many → text holding the JSON list of ids (`"[2, 5]"`).
Odoo's `false` for an empty value becomes NULL, except in boolean columns.

    res_company        id, name, currency_id, currency_name, partner_id, partner_name,
                       country_id, country_name, write_date, create_date   (no company_id: use id)
    res_partner        id, name, ref, is_company, parent_id, parent_name, customer_rank,
                       supplier_rank, email, vat, city, country_id, country_name, company_id,
                       company_name, active, …
    account_account    id, code, name, account_type, internal_group, reconcile, deprecated,
                       currency_id, currency_name, company_id, company_name, …
    account_journal    id, name, code, type, default_account_id, default_account_name,
                       currency_id, currency_name, company_id, company_name, active, …
    account_move       id, name, ref, move_type, state, payment_state, date, invoice_date,
                       invoice_date_due, partner_id, partner_name, journal_id, journal_name,
                       company_id, company_name, currency_id, currency_name, amount_untaxed,
                       amount_tax, amount_total, amount_residual, amount_untaxed_signed,
                       amount_total_signed, amount_residual_signed, reversed_entry_id,
                       reversed_entry_name, …
    account_move_line  id, move_id, move_name (the move's display name), parent_state, date,
                       date_maturity, account_id, account_name, partner_id, partner_name,
                       journal_id, journal_name, company_id, company_name, currency_id,
                       currency_name, name, ref, display_type, debit, credit, balance,
                       amount_currency, amount_residual, reconciled, full_reconcile_id,
                       full_reconcile_name, matching_number, …
    project_project    id, name, partner_id, partner_name, user_id, user_name, company_id,
                       company_name, date_start, date, allocated_hours, active, …
    project_task       id, name, project_id, project_name, stage_id, stage_name, state,
                       user_ids, tag_ids, partner_id, partner_name, company_id, company_name,
                       priority, date_deadline, date_assign, date_end, date_last_stage_update,
                       allocated_hours, active, …
    account_bank_statement_line
                       id, move_id, move_name, statement_id, statement_name, journal_id,
                       journal_name, company_id, company_name, currency_id, currency_name, date,
                       payment_ref (the bank's label), ref, partner_id, partner_id_display_name,
                       partner_name (the counterparty as the bank names it), account_number,
                       transaction_type, amount (signed: money in is positive), amount_currency,
                       foreign_currency_id, foreign_currency_name, amount_residual (double
                       precision: what is left to match, opposite sign), is_reconciled, …

For gold: posted lines are `parent_state = 'posted'` (drafts and cancelled moves stay in bronze);
`balance = debit - credit` in company currency; accounts group by `account_type` /
`internal_group`; receivable/payable lines carry `amount_residual` and `date_maturity` for aging;
a bank statement line not yet matched (`is_reconciled = false`) waits on the suspense account.
Fields the server lacks (another Odoo version) are left out; `extra_fields` adds more per model.

Incremental reads: keyset pages in `write_date asc, id asc` order. Odoo stores `write_date` to the
microsecond but serves it cut to the second, and one transaction stamps all its records alike,
so a plain `(write_date, id) > (last_ts, last_id)` would skip or loop. The connector therefore
pages by second: a page's rows from seconds before its last one are complete; the last second is
then drained by id (`write_date >= s AND write_date < s+1 AND id > n`, `id asc`) before moving
on to `write_date >= s+1`. The domain is re-derived from the last row, never an offset: an
offset shifts when a record is updated mid-sync (it moves to the end of the order) and a row is
skipped. The cursor is `{"write_date": "YYYY-MM-DD HH:MM:SS", "id": n}` (all earlier seconds and,
in that second, ids up to n, are synced) and checkpointed after every page. Odoo stamps
`write_date` when a transaction starts, not when it commits, so a slow transaction can commit
rows stamped before a cursor already taken; each run therefore starts `lookback_s` (default 120 s,
Odoo's default `limit_time_real` for a request) before the cursor. Re-read rows change nothing.

Deletes: Odoo keeps no deletion log, so every `reconcile_deletes_every` incremental runs the
connector lists the ids that exist now (`search`, paged by id) and yields `Deletes` for ids it
knew but the server no longer has. The ids it knows are kept in the cursor as sorted inclusive
ranges (`known_ids: [[1, 480], [482, 7053]]`): Odoo ids come from sequences, so a table is a few
ranges — one per gap — however many rows it has. The set holds every id of the last listing
plus every id read since, so a record synced and then deleted between two listings is found.

Resilience: 5xx, 429, timeouts and connection errors are retried `max_retries` times with
exponential backoff and jitter; an expired session re-authenticates once and retries; Odoo's own
error message is reported for a bad field, domain or model; bad credentials fail with
"authentication failed for user … on database …" — the password never appears in a message.

Fields added to a config later fill in as records change; run a full refresh to backfill them.
A record that leaves the synced set — outside `filters` or `company_ids` now — counts as deleted
at the next id reconciliation, like a record removed from Odoo.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

import httpx
import pyarrow as pa
from pydantic import Field, model_validator

from ipai_core.connectors.base import (
    Checkpoint,
    Column,
    Connector,
    Deletes,
    Item,
    ReadRequest,
    RunContext,
    StreamSchema,
    SyncMode,
    SyncOptions,
)
from ipai_core.connectors.registry import register
from ipai_core.errors import ConfigError, SourceError
from ipai_core.vault.secret import SecretValue

DEFAULT_MODELS = (
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
# What finance and project gold needs of each model; `company_id`, `write_date` and
# `create_date` are added wherever the model has them.
SYNCED_FIELDS: dict[str, tuple[str, ...]] = {
    "res.company": ("name", "currency_id", "partner_id", "country_id"),
    "res.partner": (
        *("name", "ref", "is_company", "parent_id", "customer_rank", "supplier_rank"),
        *("email", "vat", "city", "country_id", "company_id", "active"),
    ),
    "account.account": (
        *("code", "name", "account_type", "internal_group", "reconcile", "deprecated"),
        *("currency_id", "company_id"),
    ),
    "account.journal": (
        *("name", "code", "type", "default_account_id", "currency_id", "company_id", "active"),
    ),
    "account.move": (
        *("name", "ref", "move_type", "state", "payment_state", "date", "invoice_date"),
        *("invoice_date_due", "partner_id", "journal_id", "company_id", "currency_id"),
        *("amount_untaxed", "amount_tax", "amount_total", "amount_residual"),
        *("amount_untaxed_signed", "amount_total_signed", "amount_residual_signed"),
        "reversed_entry_id",
    ),
    "account.move.line": (
        *("move_id", "parent_state", "date", "date_maturity", "account_id", "partner_id"),
        *("journal_id", "company_id", "currency_id", "name", "ref", "display_type"),
        *("debit", "credit", "balance", "amount_currency", "amount_residual", "reconciled"),
        *("full_reconcile_id", "matching_number"),
    ),
    "project.project": (
        *("name", "partner_id", "user_id", "company_id", "date_start", "date"),
        *("allocated_hours", "active"),
    ),
    "project.task": (
        *("name", "project_id", "stage_id", "state", "user_ids", "tag_ids", "partner_id"),
        *("company_id", "priority", "date_deadline", "date_assign", "date_end"),
        *("date_last_stage_update", "allocated_hours", "active"),
    ),
    "account.bank.statement.line": (
        *("move_id", "statement_id", "journal_id", "company_id", "currency_id", "date"),
        *("payment_ref", "ref", "partner_id", "partner_name", "account_number"),
        *("transaction_type", "amount", "amount_currency", "foreign_currency_id"),
        *("amount_residual", "is_reconciled"),
    ),
}
_ALWAYS = ("company_id", "write_date", "create_date")
MONEY = pa.decimal128(20, 4)
_MONEY_STEP = Decimal("0.0001")
_ARROW: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "many2one_reference": pa.int64(),
    "float": pa.float64(),
    "monetary": MONEY,
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
}
_SECOND = timedelta(seconds=1)
_TS = "%Y-%m-%d %H:%M:%S"
_ID_PAGE = 10_000
_BATCH = 10_000
_BACKOFF_CAP_S = 30.0
Ranges = list[list[int]]
_MODEL_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")


class OdooConfig(SyncOptions):
    url: str = Field(pattern=r"^https?://", description="Base address, e.g. https://erp.example")
    database: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password_secret: str = Field(description="Vault reference of the password or API key")
    models: list[str] = Field(default_factory=lambda: list(DEFAULT_MODELS), min_length=1)
    extra_fields: dict[str, list[str]] = Field(
        default_factory=dict, description="More fields per model, beyond the curated ones"
    )
    filters: dict[str, list[Any]] = Field(
        default_factory=dict, description="An extra Odoo domain per model (AND-ed)"
    )
    company_ids: list[int] | None = Field(default=None, description="Only these companies")
    page_size: int = Field(default=500, ge=1, le=10_000)
    timeout_s: float = Field(default=30, gt=0, le=600)
    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_s: float = Field(default=0.5, ge=0, le=60, description="First retry's wait")
    reconcile_deletes_every: int = Field(
        default=1, ge=0, description="List ids to find deletes every N runs (0: never)"
    )
    lookback_s: int = Field(
        default=120, ge=0, le=86_400, description="Start this many seconds before the cursor"
    )

    @model_validator(mode="after")
    def _known_models(self) -> OdooConfig:
        bad = [m for m in self.models if not _MODEL_NAME.fullmatch(m)]
        if bad or len(set(self.models)) < len(self.models):
            raise ValueError(
                f"models must be distinct Odoo model names like `account.move`; got {self.models}"
            )
        for option in ("extra_fields", "filters"):
            stray = sorted(set(getattr(self, option)) - set(self.models))
            if stray:
                raise ValueError(f"{option} names model(s) {stray} that are not in `models`")
        streams = {stream_name(m) for m in self.models}
        unknown = sorted(set(self.streams or ()) - streams)
        if unknown:
            raise ValueError(f"streams {unknown} are not among the models' {sorted(streams)}")
        return self


def stream_name(model: str) -> str:
    """`account.move` → `account_move`."""
    return model.replace(".", "_")


# -- the JSON-RPC client -----------------------------------------------------------------------


class _SessionExpired(Exception):
    """Odoo answered `odoo.http.SessionExpiredException`."""


class OdooClient:
    """JSON-RPC calls to one database as one user: retries, backoff, re-authentication."""

    def __init__(
        self,
        config: OdooConfig,
        password: SecretValue,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._password = password
        self._http = httpx.Client(
            base_url=config.url.rstrip("/"),
            timeout=config.timeout_s,
            transport=transport,
            headers={"User-Agent": "ipai-databricks odoo connector"},
        )
        self._uid: int | None = None
        self._request_ids = itertools.count(1)
        self._sleep = sleep
        self._jitter = random.Random()  # noqa: S311 - backoff jitter, not secrets

    def close(self) -> None:
        self._http.close()

    def execute(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """`object.execute_kw`, re-authenticating once if the session has expired."""
        for attempt in (1, 2):
            uid = self._uid if self._uid is not None else self.authenticate()
            call = [self.config.database, uid, self._password.reveal(), model, method, args, kwargs]
            try:
                return self._call("object", "execute_kw", call, f"`{method}` on `{model}`")
            except _SessionExpired:
                self._uid = None
                if attempt == 2:
                    raise SourceError(
                        f"Odoo at `{self.config.url}` expired the session again right after "
                        f"re-authenticating (`{method}` on `{model}`); check the server's sessions"
                    ) from None
        raise AssertionError("unreachable")

    def authenticate(self) -> int:
        c = self.config
        args = [c.database, c.username, self._password.reveal(), {}]
        try:
            uid = self._call("common", "authenticate", args, "`authenticate`")
        except _SessionExpired:
            raise self._auth_failed() from None
        if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
            raise self._auth_failed()
        self._uid = uid
        return uid

    def _auth_failed(self) -> SourceError:
        c = self.config
        return SourceError(
            f"authentication failed for user `{c.username}` on database `{c.database}` at "
            f"`{c.url}`; check the login and the password or API key in vault secret "
            f"`{c.password_secret}`"
        )

    def _call(self, service: str, method: str, args: list[Any], what: str) -> Any:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._request_ids),
        }
        response = self._post(payload)
        try:
            body = response.json()
        except ValueError:
            raise SourceError(
                f"`{self.config.url}/jsonrpc` did not answer JSON (HTTP {response.status_code}, "
                f"{response.headers.get('content-type', 'no content type')}); is `url` an Odoo "
                "server's base address?"
            ) from None
        if not isinstance(body, dict):
            raise SourceError(f"`{self.config.url}/jsonrpc` answered a non-object JSON value")
        return self._result(body, what)

    def _result(self, body: dict[str, Any], what: str) -> Any:
        error = body.get("error")
        if error is None:
            return body.get("result")
        if not isinstance(error, dict):
            raise SourceError(f"Odoo refused {what}: {error!r}")
        data: dict[str, Any] = error["data"] if isinstance(error.get("data"), dict) else {}
        name = str(data.get("name") or "")
        if error.get("code") == 100 or name.endswith("SessionExpiredException"):
            raise _SessionExpired
        if name.endswith("AccessDenied"):
            raise self._auth_failed()
        message = data.get("message") or error.get("message") or "no message"
        raise SourceError(f"Odoo refused {what}: {message} (`{name or error.get('code')}`)")

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        """POST with retries on 5xx, 429, timeouts and connection errors."""
        attempts, failure = self.config.max_retries + 1, ""
        for attempt in range(attempts):
            wait: float | None = None
            try:
                response = self._http.post("/jsonrpc", json=payload)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}".rstrip(": ")
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status != 429 and status < 500:
                    raise SourceError(
                        f"Odoo at `{self.config.url}` answered HTTP {status} on /jsonrpc; check "
                        "`url` (the server's base address, e.g. https://erp.example.com)"
                    )
                failure = f"HTTP {status}"
                wait = _retry_after(response)
            if attempt + 1 < attempts:
                self._sleep(wait if wait is not None else self._backoff(attempt))
        raise SourceError(
            f"Odoo at `{self.config.url}` failed {attempts} time(s), last with {failure}; check "
            "that it is up, or raise `max_retries` / `timeout_s`"
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential with "equal jitter": half the delay fixed, half random."""
        delay = min(_BACKOFF_CAP_S, self.config.backoff_s * 2.0**attempt)
        return delay / 2 + self._jitter.uniform(0, delay / 2)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return min(float(value), 60.0) if value.isdigit() else None


# -- models, columns and rows ------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """One Odoo field and the bronze column(s) it fills."""

    name: str
    kind: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class _Model:
    name: str
    fields: tuple[_Field, ...]
    scope: tuple[Any, ...]  # the domain every request of the model starts with

    @cached_property
    def stream(self) -> StreamSchema:
        return StreamSchema(
            name=stream_name(self.name),
            columns=(Column("id", pa.int64(), nullable=False), *self._columns()),
            primary_key=("id",),
            cursor_field="write_date",
            modes=frozenset({SyncMode.FULL_REFRESH, SyncMode.INCREMENTAL}),
        )

    def _columns(self) -> Iterator[Column]:
        for f in self.fields:
            yield from f.columns

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _field(name: str, kind: str, taken: set[str]) -> _Field:
    if kind != "many2one":
        return _Field(name, kind, (Column(name, _ARROW.get(kind, pa.string())),))
    base = name.removesuffix("_id")
    label = f"{base}_name" if f"{base}_name" not in taken else f"{name}_display_name"
    return _Field(name, kind, (Column(f"{base}_id", pa.int64()), Column(label, pa.string())))


def _to_batch(model: _Model, rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """A page of `search_read` rows as Arrow, typed to the stream."""
    data: dict[str, list[Any]] = {"id": [r["id"] for r in rows]}
    for f in model.fields:
        values = [r.get(f.name, False) for r in rows]
        if f.kind == "many2one":
            pairs = [_pair(v) for v in values]
            data[f.columns[0].name] = [p[0] for p in pairs]
            data[f.columns[1].name] = [p[1] for p in pairs]
        else:
            data[f.name] = [_value(f.kind, v) for v in values]
    return pa.RecordBatch.from_pydict(data, schema=model.stream.arrow_schema)


def _pair(value: Any) -> tuple[int | None, str | None]:
    """A many2one value, `[id, "display name"]` (or a bare id, or `false`), as (id, name)."""
    if isinstance(value, list | tuple) and value:
        name = value[1] if len(value) > 1 and isinstance(value[1], str) else None
        return int(value[0]), name
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    return None, None


def _value(kind: str, value: Any) -> Any:
    """An Odoo JSON value in its bronze type; Odoo's `false` is NULL except for booleans."""
    if kind == "boolean":
        return bool(value)
    if kind in ("many2many", "one2many"):
        return json.dumps(list(value or []))
    if value is False or value is None:
        return None
    if kind == "monetary":
        return Decimal(str(value)).quantize(_MONEY_STEP)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "datetime":
        return datetime.strptime(value[:19], _TS).replace(tzinfo=UTC)
    if kind in ("integer", "many2one_reference"):
        return int(value)
    if kind == "float":
        return float(value)
    return value if isinstance(value, str) else json.dumps(value)


# -- cursor: position and known ids ------------------------------------------------------------


@dataclass(frozen=True)
class _Position:
    """All records of seconds before `second` are synced, and of `second` those with id ≤ `id`."""

    second: datetime
    id: int

    @property
    def text(self) -> str:
        return self.second.strftime(_TS)


@dataclass(frozen=True)
class _Cursor:
    position: _Position | None = None
    known: Ranges = field(default_factory=list)
    runs_since_reconcile: int = 0

    @classmethod
    def load(cls, value: Mapping[str, Any] | None) -> _Cursor:
        if not value or "write_date" not in value:
            return cls()
        second = datetime.strptime(str(value["write_date"]), _TS)
        return cls(
            _Position(second, int(value.get("id", 0))),
            [[int(a), int(b)] for a, b in value.get("known_ids", [])],
            int(value.get("runs_since_reconcile", 0)),
        )

    def as_json(self) -> dict[str, Any]:
        if self.position is None:
            return {"known_ids": self.known, "runs_since_reconcile": self.runs_since_reconcile}
        return {
            "write_date": self.position.text,
            "id": self.position.id,
            "known_ids": self.known,
            "runs_since_reconcile": self.runs_since_reconcile,
        }


def _ranges(ids: Iterable[int]) -> Ranges:
    """Sorted inclusive ranges covering `ids`."""
    out: Ranges = []
    for i in sorted(set(ids)):
        if out and out[-1][1] + 1 >= i:
            out[-1][1] = max(out[-1][1], i)
        else:
            out.append([i, i])
    return out


def _union(a: Ranges, b: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(a + b):
        if out and out[-1][1] + 1 >= lo:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def _gone(known: Ranges, present: Iterable[int]) -> Iterator[int]:
    """Ids in `known` that are not in `present` (ascending); consumes all of `present`."""
    pending = iter(known)
    current = next(pending, None)
    lo = current[0] if current else 0
    for pid in present:
        while current is not None and current[1] < pid:
            yield from range(lo, current[1] + 1)
            current = next(pending, None)
            lo = current[0] if current else 0
        if current is not None and current[0] <= pid:
            yield from range(lo, pid)
            lo = pid + 1
    while current is not None:
        yield from range(lo, current[1] + 1)
        current = next(pending, None)
        lo = current[0] if current else 0


# -- the connector -----------------------------------------------------------------------------


@register
class OdooConnector(Connector[OdooConfig]):
    """Odoo models → bronze, incremental by `write_date`, deletes by id reconciliation."""

    connector_type = "odoo"
    config_model = OdooConfig

    def __init__(
        self,
        config: OdooConfig,
        secrets: Mapping[str, SecretValue],
        context: RunContext | None = None,
    ) -> None:
        super().__init__(config, secrets, context)
        self._client: OdooClient | None = None
        self._models: dict[str, _Model] = {}

    def discover(self) -> list[StreamSchema]:
        wanted = set(self.config.streams or ())
        models = [m for m in self.config.models if not wanted or stream_name(m) in wanted]
        return [self._model(m).stream for m in models]

    def read(self, request: ReadRequest) -> Iterator[Item]:
        name = next(m for m in self.config.models if stream_name(m) == request.stream.name)
        model = self._model(name)
        cursor = _Cursor.load(request.cursor if request.mode is not SyncMode.FULL_REFRESH else None)
        start = self._start(cursor.position)
        seen = cursor.known if start else []
        position = cursor.position
        for rows, reached in self._pages(model, start):
            seen = _union(seen, _ranges(r["id"] for r in rows))
            position = _later(position, reached)
            for offset in range(0, len(rows), request.batch_rows):
                yield _to_batch(model, rows[offset : offset + request.batch_rows])
            yield Checkpoint(replace(cursor, position=position, known=seen).as_json())
        runs = cursor.runs_since_reconcile + 1 if start else 0
        every = self.config.reconcile_deletes_every
        if start and every and runs >= every:
            present: Ranges = []
            for keys in _batched(_gone(seen, _tracking(self._all_ids(model), present)), _BATCH):
                yield Deletes(pa.RecordBatch.from_pydict({"id": pa.array(keys, pa.int64())}))
            seen, runs = present, 0
        yield Checkpoint(_Cursor(position, seen, runs).as_json())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- discovery -----------------------------------------------------------------------------

    @property
    def client(self) -> OdooClient:
        if self._client is None:
            name = self.config.password_secret
            if name not in self.secrets:
                raise ConfigError(
                    f"vault secret `{name}` (password_secret) is not among the connector's "
                    f"secrets; store it with `ipai secrets set {name}` and add the connector "
                    f"with `--secret {name}`"
                )
            self._client = OdooClient(self.config, self.secrets[name])
        return self._client

    def _model(self, name: str) -> _Model:
        if name not in self._models:
            self._models[name] = self._describe(name)
        return self._models[name]

    def _describe(self, name: str) -> _Model:
        """The model's synced fields, typed by `fields_get`. The extra fields and the filter are
        tried once (one row) so that Odoo itself says what is wrong with them."""
        ask = {"attributes": ["type", "string", "relation"], "context": self._context()}
        available: dict[str, Any] = self.client.execute(name, "fields_get", [], ask)
        curated = [f for f in (*SYNCED_FIELDS.get(name, ()), *_ALWAYS) if f in available]
        names = list(dict.fromkeys([*curated, *self.config.extra_fields.get(name, [])]))
        stamps: list[str] = [n for n in ("write_date", "create_date") if n in available]
        names = [n for n in names if n not in ("id", *stamps)] + stamps
        scope = self._scope(name, "company_id" in available)
        probe = {"fields": names, "limit": 1, "context": self._context()}
        self.client.execute(name, "search_read", [scope], probe)
        missing = [n for n in names if n not in available]
        if missing:
            raise SourceError(f"Odoo model `{name}` has no field(s) {missing} (per fields_get)")
        fields = tuple(_field(n, str(available[n].get("type")), set(names)) for n in names)
        columns = ["id", *(c.name for f in fields for c in f.columns)]
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:
            raise ConfigError(f"model `{name}`: its fields give the column(s) {twice} twice")
        return _Model(name, fields, tuple(scope))

    def _context(self) -> dict[str, Any]:
        context: dict[str, Any] = {"active_test": False}
        if self.config.company_ids:
            context["allowed_company_ids"] = list(self.config.company_ids)
        return context

    def _scope(self, name: str, has_company: bool) -> list[Any]:
        """The user's filter for the model, AND-ed with the company filter."""
        domain = list(self.config.filters.get(name, []))
        ids = self.config.company_ids
        if ids and name == "res.company":
            domain += [["id", "in", ids]]
        elif ids and has_company:
            domain += ["|", ["company_id", "=", False], ["company_id", "in", ids]]
        return domain

    # -- reading -------------------------------------------------------------------------------

    def _start(self, position: _Position | None) -> _Position | None:
        if position is None or not self.config.lookback_s:
            return position
        return _Position(position.second - timedelta(seconds=self.config.lookback_s), 0)

    def _search_read(self, model: _Model, domain: list[Any], order: str) -> list[dict[str, Any]]:
        kwargs = {
            "fields": model.field_names,
            "order": order,
            "limit": self.config.page_size,
            "context": self._context(),
        }
        where = [*model.scope, *domain]
        rows: list[dict[str, Any]] = self.client.execute(model.name, "search_read", [where], kwargs)
        return rows

    def _pages(
        self, model: _Model, start: _Position | None
    ) -> Iterator[tuple[list[dict[str, Any]], _Position]]:
        """Pages of rows, each with the position reached after it (see the module docstring)."""
        after: datetime | None = None
        if start is not None:
            yield from self._drain(model, start)
            after = start.second + _SECOND
        while True:
            since = [["write_date", ">=", after.strftime(_TS)]] if after else []
            rows = self._search_read(model, since, "write_date asc, id asc")
            if not rows:
                return
            last = _second(model, rows[-1])
            if len(rows) < self.config.page_size:  # everything left: complete to the last row
                top = max(r["id"] for r in rows if _second(model, r) == last)
                yield rows, _Position(last, top)
                return
            earlier = [r for r in rows if _second(model, r) < last]
            if earlier:
                yield earlier, _Position(last, 0)
            yield from self._drain(model, _Position(last, 0))
            after = last + _SECOND

    def _drain(
        self, model: _Model, start: _Position
    ) -> Iterator[tuple[list[dict[str, Any]], _Position]]:
        """The rest of one second's records, by id: a keyset that equal timestamps cannot
        break."""
        lo, hi = start.second.strftime(_TS), (start.second + _SECOND).strftime(_TS)
        last_id = start.id
        while True:
            domain = [["write_date", ">=", lo], ["write_date", "<", hi], ["id", ">", last_id]]
            rows = self._search_read(model, domain, "id asc")
            if rows:
                last_id = rows[-1]["id"]
                yield rows, _Position(start.second, last_id)
            if len(rows) < self.config.page_size:
                return

    def _all_ids(self, model: _Model) -> Iterator[int]:
        """Every id the server has now (within the scope), ascending, a page at a time."""
        last = 0
        while True:
            kwargs = {"order": "id asc", "limit": _ID_PAGE, "context": self._context()}
            where = [*model.scope, ["id", ">", last]]
            ids: list[int] = self.client.execute(model.name, "search", [where], kwargs)
            yield from ids
            if len(ids) < _ID_PAGE:
                return
            last = ids[-1]


def _later(a: _Position | None, b: _Position) -> _Position:
    return b if a is None or (b.second, b.id) >= (a.second, a.id) else a


def _second(model: _Model, row: Mapping[str, Any]) -> datetime:
    value = row.get("write_date")
    if not isinstance(value, str):
        raise SourceError(
            f"`{model.name}` record {row.get('id')} has no write_date; incremental sync needs it "
            "(run a full refresh)"
        )
    return datetime.strptime(value[:19], _TS)


def _tracking(ids: Iterator[int], into: Ranges) -> Iterator[int]:
    """Pass ascending ids through, collecting them as ranges in `into`."""
    for i in ids:
        if into and into[-1][1] + 1 >= i:
            into[-1][1] = max(into[-1][1], i)
        else:
            into.append([i, i])
        yield i


def _batched(values: Iterable[int], size: int) -> Iterator[list[int]]:
    batch: list[int] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
