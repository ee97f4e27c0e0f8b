"""A local Odoo: JSON-RPC at `POST /jsonrpc` over an `ErpDemo`, so the demo and the tests go
through the real Odoo connector.

    with OdooServer(ErpDemo.generate(), login="admin", password="demo") as server:
        server.url                                        # http://127.0.0.1:<port>
        server.faults.extend(["500", "session_expired"])  # taken one per request
        server.calls                                      # every request as the server saw it

What it speaks of Odoo 17's external API: `common.version`, `common.authenticate` / `login` (the
uid, or `false` for a wrong login, password or API key) and `object.execute_kw(db, uid, password,
model, method, args, kwargs)` with `search_read`, `search`, `search_count`, `read` and
`fields_get`. Domains in prefix notation (`&`, `|`, `!`; consecutive terms are AND-ed) with `=`,
`!=`, `>`, `>=`, `<`, `<=`, `in`, `not in`, `like`, `ilike`; `order` such as `write_date asc, id
asc`; `limit`, `offset`, `fields`; the context's `active_test` (archived records are hidden unless
it is false) and `allowed_company_ids`. Datetimes are compared at the microsecond precision of
Odoo's database but sent cut to seconds, money is sent as floats — both as Odoo does.

Errors come back as Odoo's JSON-RPC dispatcher sends them, with HTTP 200: `{"jsonrpc": "2.0",
"id": …, "error": {"code": 200, "message": "Odoo Server Error", "data": {"name":
"builtins.ValueError", "message": "Invalid field 'x' on model 'y'", "arguments": […], "debug":
"Traceback …", "context": {}}}}`. An expired session has code 100 and message "Odoo Session
Expired" (`odoo.http.SessionExpiredException`); a wrong password on `execute_kw` raises
`odoo.exceptions.AccessDenied`.

Faults, one taken from `faults` per request: `"ok"` (none), an HTTP status such as `"500"` or
`"503"` (an HTML error page, as a proxy in front of Odoo sends), `"timeout"` (no answer for
`stall_s`, then the connection is closed), `"disconnect"` (closed without an answer),
`"session_expired"` and `"access_denied"` (on `object` calls).
"""

from __future__ import annotations

import json
import operator
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

from ipai_core.demo.erp_data import MODELS, ErpDemo, FieldSpec, Record

SERVER_VERSION = {
    "server_version": "17.0",
    "server_version_info": [17, 0, 0, "final", 0, ""],
    "server_serie": "17.0",
    "protocol_version": 1,
}
_ERROR_PAGE = b"<!DOCTYPE html><html><body><h1>Internal Server Error</h1></body></html>"
_SIGNATURES = {
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search": ("domain", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "read": ("ids", "fields"),
    "fields_get": ("allfields", "attributes"),
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
Predicate = Callable[[Record], bool]


class OdooError(Exception):
    """An exception as Odoo's JSON-RPC dispatcher reports it (`serialize_exception`)."""

    def __init__(
        self, name: str, message: str, *, code: int = 200, title: str = "Odoo Server Error"
    ) -> None:
        super().__init__(message)
        self.name, self.message, self.code, self.title = name, message, code, title

    def payload(self) -> dict[str, Any]:
        shown = self.name.removeprefix("builtins.")
        debug = f"Traceback (most recent call last):\n  ...\n{shown}: {self.message}\n"
        data = {"name": self.name, "debug": debug, "message": self.message}
        return {
            "code": self.code,
            "message": self.title,
            "data": data | {"arguments": [self.message], "context": {}},
        }


def _value_error(message: str) -> OdooError:
    return OdooError("builtins.ValueError", message)


def _access_denied() -> OdooError:
    return OdooError("odoo.exceptions.AccessDenied", "Access Denied")


@dataclass(frozen=True)
class RpcCall:
    """One request as the server saw it (passwords left out)."""

    service: str
    method: str
    model: str | None = None
    model_method: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] | None = None
    fault: str | None = None


class OdooRpc:
    """Odoo's JSON-RPC semantics over an `ErpDemo`, without HTTP (the server's core)."""

    def __init__(
        self, demo: ErpDemo, *, database: str, login: str, secrets: Sequence[str], uid: int = 2
    ) -> None:
        self.demo, self.database, self.login, self.uid = demo, database, login, uid
        self._secrets = tuple(secrets)

    def handle(self, payload: Any, fault: str | None = None) -> dict[str, Any]:
        request_id = payload.get("id") if isinstance(payload, dict) else None
        try:
            result = self._call(payload, fault)
        except OdooError as exc:
            return {"jsonrpc": "2.0", "id": request_id, "error": exc.payload()}
        except Exception as exc:  # any other exception: reported as Odoo reports it
            error = OdooError(f"builtins.{type(exc).__name__}", str(exc))
            return {"jsonrpc": "2.0", "id": request_id, "error": error.payload()}
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def _call(self, payload: Any, fault: str | None) -> Any:
        if not isinstance(payload, dict) or payload.get("method") != "call":
            raise OdooError("werkzeug.exceptions.BadRequest", "Invalid JSON-RPC request")
        params = payload.get("params") or {}
        service, method = params.get("service"), params.get("method")
        args = list(params.get("args") or [])
        if service == "common":
            return self._common(method, args)
        if service == "object" and method == "execute_kw":
            if fault == "session_expired":
                raise OdooError(
                    "odoo.http.SessionExpiredException",
                    "Session expired",
                    code=100,
                    title="Odoo Session Expired",
                )
            if fault == "access_denied":
                raise _access_denied()
            return self._execute_kw(args)
        raise OdooError("builtins.KeyError", f"No such service or method: {service}.{method}")

    def _common(self, method: Any, args: list[Any]) -> Any:
        if method == "version":
            return SERVER_VERSION
        if method in ("authenticate", "login"):
            database, login, password = (args + [None] * 3)[:3]
            self._check_database(database)
            return self.uid if login == self.login and password in self._secrets else False
        raise OdooError("builtins.AttributeError", f"common has no method {method!r}")

    def _check_database(self, name: Any) -> None:
        if name != self.database:
            raise OdooError(
                "psycopg2.OperationalError",
                f'connection to server failed: FATAL:  database "{name}" does not exist',
            )

    def _execute_kw(self, args: list[Any]) -> Any:
        if len(args) < 5:
            raise OdooError("builtins.TypeError", "execute_kw() missing required arguments")
        database, uid, password, model, method, *rest = args
        self._check_database(database)
        if uid != self.uid or password not in self._secrets:
            raise _access_denied()
        if model not in MODELS:
            raise OdooError("odoo.exceptions.UserError", f"Object {model} doesn't exist")
        if method not in _SIGNATURES:
            raise OdooError(
                "builtins.AttributeError",
                f"The method '{method}' does not exist on the model '{model}'",
            )
        keywords = dict(rest[1]) if len(rest) > 1 and rest[1] else {}
        context = keywords.pop("context", None) or {}
        bound = _bind(method, list(rest[0]) if rest else [], keywords)
        handler: Callable[..., Any] = getattr(self, f"_{method}")
        return handler(model, context, **bound)

    # -- model methods -------------------------------------------------------------------------

    def _search_read(
        self,
        model: str,
        context: Mapping[str, Any],
        domain: list[Any] | None = None,
        fields: list[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[Record]:
        names = self._readable(model, fields)
        rows = self._search_rows(model, context, domain, offset, limit, order)
        return [_present(row, names, self.demo.fields(model)) for row in rows]

    def _search(
        self,
        model: str,
        context: Mapping[str, Any],
        domain: list[Any] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        return [r["id"] for r in self._search_rows(model, context, domain, offset, limit, order)]

    def _search_count(
        self,
        model: str,
        context: Mapping[str, Any],
        domain: list[Any] | None = None,
        limit: int | None = None,
    ) -> int:
        return len(self._search_rows(model, context, domain, 0, limit, None))

    def _read(
        self,
        model: str,
        context: Mapping[str, Any],
        ids: list[int] | None = None,
        fields: list[str] | None = None,
    ) -> list[Record]:
        everything = {**context, "active_test": False}  # read() also returns archived records
        return self._search_read(model, everything, [["id", "in", list(ids or [])]], fields)

    def _fields_get(
        self,
        model: str,
        context: Mapping[str, Any],
        allfields: list[str] | None = None,
        attributes: list[str] | None = None,
    ) -> dict[str, FieldSpec]:
        specs = self.demo.fields(model)
        return {
            name: {k: v for k, v in specs[name].items() if not attributes or k in attributes}
            for name in allfields or specs
            if name in specs
        }

    # -- searching -----------------------------------------------------------------------------

    def _readable(self, model: str, fields: list[str] | None) -> list[str]:
        specs = self.demo.fields(model)
        for name in fields or ():
            if name not in specs:
                raise _value_error(f"Invalid field {name!r} on model {model!r}")
        return [n for n in (fields or specs) if n != "id"]

    def _search_rows(
        self,
        model: str,
        context: Mapping[str, Any],
        domain: list[Any] | None,
        offset: int,
        limit: int | None,
        order: str | None,
    ) -> list[Record]:
        specs = self.demo.fields(model)
        checks = [_compile(model, specs, domain or [])]
        if (
            "active" in specs
            and context.get("active_test", True)
            and not _mentions(domain, "active")
        ):
            checks.append(lambda r: bool(r["active"]))
        allowed = context.get("allowed_company_ids")
        if allowed:
            checks.append(self._company_rule(model, allowed))
        terms = _order_terms(order or "id", model, specs)
        with self.demo.lock:
            rows = [r for r in self.demo.records[model].values() if all(c(r) for c in checks)]
            for name, descending in reversed(terms):
                rows.sort(key=_sort_key(name, specs[name]["type"]), reverse=descending)
            return [dict(r) for r in rows[offset or 0 :][: limit or None]]

    def _company_rule(self, model: str, allowed: list[int]) -> Predicate:
        """Odoo's multi-company record rule for the companies in the context."""
        if set(allowed) - set(self.demo.records["res.company"]):
            raise OdooError(
                "odoo.exceptions.AccessError", "Access to unauthorized or invalid companies."
            )
        chosen = set(allowed)
        if model == "res.company":
            return lambda r: r["id"] in chosen
        if "company_id" not in self.demo.fields(model):
            return lambda r: True
        return lambda r: not r["company_id"] or r["company_id"][0] in chosen


def _bind(method: str, positional: list[Any], keywords: dict[str, Any]) -> dict[str, Any]:
    """Arguments by name, as Python binds a call to the model method's signature."""
    names = _SIGNATURES[method]
    if len(positional) > len(names):
        raise OdooError(
            "builtins.TypeError",
            f"{method}() takes {len(names)} positional arguments but {len(positional)} were given",
        )
    bound = dict(zip(names, positional, strict=False))
    for key, value in keywords.items():
        if key not in names or key in bound:
            raise OdooError(
                "builtins.TypeError", f"{method}() got an unexpected keyword argument '{key}'"
            )
        bound[key] = value
    return bound


def _present(row: Record, names: list[str], specs: Mapping[str, FieldSpec]) -> Record:
    """A record as `search_read` sends it: datetimes to the second, money as floats."""
    out: Record = {"id": row["id"]}
    for name in names:
        value = row[name]
        if specs[name]["type"] == "datetime" and isinstance(value, str):
            value = value[:19]
        elif isinstance(value, Decimal):
            value = float(value)
        out[name] = value
    return out


def _mentions(domain: list[Any] | None, name: str) -> bool:
    return any(isinstance(t, list | tuple) and len(t) == 3 and t[0] == name for t in domain or ())


def _order_terms(order: str, model: str, specs: Mapping[str, FieldSpec]) -> list[tuple[str, bool]]:
    terms = []
    for part in order.split(","):
        words = part.split()
        if not words:
            continue
        direction = words[1].lower() if len(words) > 1 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise _value_error(f'Invalid "order" specified ({order!r})')
        if words[0] not in specs:
            raise _value_error(f"Invalid field {words[0]!r} on model {model!r}")
        terms.append((words[0], direction == "desc"))
    return terms


def _sort_key(name: str, kind: str) -> Callable[[Record], Any]:
    get = _getter(name, kind)

    def key(row: Record) -> Any:
        value = get(row)
        if kind in ("many2many", "one2many"):
            value = tuple(value)
        return (value is None, value)  # NULLS LAST ascending, first descending, as PostgreSQL

    return key


# -- domains ---------------------------------------------------------------------------------


def _compile(model: str, specs: Mapping[str, FieldSpec], domain: Any) -> Predicate:
    """A predicate for a domain in prefix (Polish) notation."""
    if not isinstance(domain, list | tuple):
        raise _value_error(f"Invalid domain {domain!r}")
    stack: list[Predicate] = []

    def pop() -> Predicate:
        if not stack:
            raise _value_error(f"Invalid domain {domain!r}: an operator lacks its operands")
        return stack.pop()

    for term in reversed(domain):
        if term == "!":
            stack.append(_negate(pop()))
        elif term in ("&", "|"):
            stack.append(_combine(term, pop(), pop()))
        else:
            stack.append(_leaf(model, specs, term))
    return lambda r: all(p(r) for p in stack)


def _negate(test: Predicate) -> Predicate:
    return lambda r: not test(r)


def _combine(op: str, left: Predicate, right: Predicate) -> Predicate:
    if op == "&":
        return lambda r: left(r) and right(r)
    return lambda r: left(r) or right(r)


def _getter(name: str, kind: str) -> Callable[[Record], Any]:
    if kind == "many2one":
        return lambda r: r[name][0] if r[name] else None
    if kind == "boolean":
        return lambda r: bool(r[name])
    if kind in ("many2many", "one2many"):
        return lambda r: r[name] or []
    return lambda r: None if r[name] is False else r[name]


def _operand(kind: str, value: Any) -> Any:
    """A domain value in the stored representation (datetimes to the microsecond)."""
    if isinstance(value, list | tuple):
        return [_operand(kind, v) for v in value]
    if kind == "datetime" and isinstance(value, str):
        if len(value) == 10:  # a date: its midnight
            return f"{value} 00:00:00.000000"
        return f"{value}.000000" if len(value) == 19 else value
    if kind == "monetary" and isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _leaf(model: str, specs: Mapping[str, FieldSpec], term: Any) -> Predicate:
    if not isinstance(term, list | tuple) or len(term) != 3:
        raise _value_error(f"Invalid leaf {term!r}")
    name, op, raw = term
    if list(term) in ([1, "=", 1], [0, "=", 1]):  # Odoo's TRUE_LEAF and FALSE_LEAF
        truth = name == 1
        return lambda r: truth
    shown = repr(tuple(term))
    spec = specs.get(name) if isinstance(name, str) else None
    if spec is None:
        raise _value_error(f"Invalid field {model}.{name} in leaf {shown}")
    kind = spec["type"]
    get, value = _getter(name, kind), _operand(kind, raw)
    if kind in ("many2many", "one2many"):
        return _many_leaf(get, op, value, shown)
    if op in _COMPARE:
        compare = _COMPARE[op]
        return lambda r: (v := get(r)) is not None and value is not False and compare(v, value)
    positive = "=" if op == "!=" else str(op).removeprefix("not ")
    test = _test(kind, get, positive, value, shown)
    return _negate(test) if positive != op else test


def _test(kind: str, get: Callable[[Record], Any], op: str, value: Any, shown: str) -> Predicate:
    """`=`, `in`, `like`, `ilike` (negations are built on these, so NULLs match `!=`)."""
    if op == "=" and value is False and kind != "boolean":
        return lambda r: get(r) is None
    if op == "=":
        return lambda r: get(r) == value
    if op == "in":
        values = value if isinstance(value, list) else [value]
        nulls = kind != "boolean" and any(v is False for v in values)
        members = {v for v in values if kind == "boolean" or v is not False}
        return lambda r: nulls if (v := get(r)) is None else v in members
    if op in ("like", "ilike"):
        fold = op == "ilike"
        needle = str(value).lower() if fold else str(value)

        def like(row: Record) -> bool:
            found = get(row)
            text = "" if found is None else str(found)
            return found is not None and needle in (text.lower() if fold else text)

        return like
    raise _value_error(f"Invalid leaf {shown}")


def _many_leaf(get: Callable[[Record], Any], op: str, value: Any, shown: str) -> Predicate:
    if op not in ("=", "!=", "in", "not in"):
        raise _value_error(f"Invalid leaf {shown}")
    wanted = set(value if isinstance(value, list) else [value])

    def matches(row: Record) -> bool:  # `= False`: no ids; otherwise: any id in common
        ids = get(row)
        return not ids if value is False else bool(wanted.intersection(ids))

    return matches if op in ("=", "in") else _negate(matches)


# -- HTTP --------------------------------------------------------------------------------------


class OdooServer:
    """`OdooRpc` over HTTP on a background thread; `start()` returns the base URL."""

    def __init__(
        self,
        demo: ErpDemo,
        *,
        database: str = "ipai_demo",
        login: str = "admin",
        password: str,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        stall_s: float = 3.0,
    ) -> None:
        self.demo, self.database, self.login = demo, database, login
        secrets = [password] if api_key is None else [password, api_key]
        self.rpc = OdooRpc(demo, database=database, login=login, secrets=secrets)
        self.faults: deque[str] = deque()
        self.calls: deque[RpcCall] = deque(maxlen=50_000)
        self.stall_s = stall_s
        self._address = (host, port)
        self._httpd: _Httpd | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the Odoo demo server is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        if self._httpd is None:
            self._httpd = _Httpd(self._address, self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="odoo-demo-server",
                daemon=True,
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._httpd = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def count(self, service: str, method: str, model_method: str | None = None) -> int:
        """How many requests called `service.method` (and, for `object`, `model_method`)."""
        return sum(
            1
            for c in list(self.calls)
            if c.service == service
            and c.method == method
            and (model_method is None or c.model_method == model_method)
        )

    def _next_fault(self) -> str | None:
        try:
            fault = self.faults.popleft()
        except IndexError:
            return None
        return None if fault == "ok" else fault

    def _record(self, payload: Any, fault: str | None) -> None:
        params = payload.get("params") if isinstance(payload, dict) else None
        if not isinstance(params, dict):
            self.calls.append(RpcCall("?", "?", fault=fault))
            return
        args = list(params.get("args") or [])
        service, method = str(params.get("service")), str(params.get("method"))
        if service == "object" and len(args) >= 5:
            rest = args[5:]
            kwargs = rest[1] if len(rest) > 1 and isinstance(rest[1], dict) else {}
            params_ = tuple(rest[0]) if rest else ()
            self.calls.append(RpcCall(service, method, args[3], args[4], params_, kwargs, fault))
        else:
            self.calls.append(RpcCall(service, method, args=tuple(args[:2]), fault=fault))


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], owner: OdooServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (a timeout test) is not an error."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall

    def do_POST(self) -> None:
        owner = cast(_Httpd, self.server).owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?", 1)[0] != "/jsonrpc":
            self._send(404, b"<html><body>404: Not Found</body></html>", "text/html")
            return
        fault = owner._next_fault()
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        owner._record(payload, fault)
        if fault in ("timeout", "disconnect"):
            if fault == "timeout":
                time.sleep(owner.stall_s)
            self.close_connection = True
            return
        if fault is not None and fault.isdigit():
            self._send(int(fault), _ERROR_PAGE, "text/html")
            return
        answer = owner.rpc.handle(payload, fault)
        self._send(200, json.dumps(answer, default=_jsonable).encode(), "application/json")

    def do_GET(self) -> None:
        self._send(404, b"<html><body>404: Not Found</body></html>", "text/html")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `OdooServer.calls` instead."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
