"""HTTP routes served beside the Streamlit workspace (plain Starlette; no Streamlit import).

    GET      /healthz      200 {"status": "ok", "database": "up"}, or 503 when the database is down
    GET      /readyz       200 when the database answers and a scheduler beat recently, else 503
                           with which of the two is missing (`observability.readiness`)
    GET      /auth/login   the sign-in form (self-contained HTML; `?error=1` shows the refusal)
    POST     /auth/login   form-encoded email + password → `ipai_session` cookie, 303 to `/`
                           (403 when a browser posts it from another origin)
    GET|POST /auth/logout  signs the cookie's token (or a bearer token) out — it is refused from
                           then on — and clears the cookie: 303 to `/auth/login` (204 for a
                           bearer token without a cookie)
    POST     /auth/token   JSON {"email", "password"} → {"access_token", "token_type",
                           "expires_in"}: Supabase's password grant, for API clients

The session cookie holds the signed JWT: HttpOnly (page scripts cannot read it), SameSite=Lax,
Secure over https, and it lives as long as the token. The workspace verifies it on every script
run, against the database too (sign-out, roles, deletion: `ipai_core.auth.revocation`); nothing
trusts it unverified. A refusal never says whether the email or the password was
wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from ipai_core.auth.revocation import sign_out
from ipai_core.auth.users import sign_in
from ipai_core.errors import AuthError, DatabaseError, InvalidCredentials, IpaiError
from ipai_core.events.routes import build_event_routes
from ipai_core.lakehouse import Lakehouse
from ipai_core.observability.readiness import Readiness, check_readiness

SESSION_COOKIE = "ipai_session"
LOGIN_PATH = "/auth/login"
LOGOUT_PATH = "/auth/logout"
MAX_EMAIL_LENGTH = 320
MAX_PASSWORD_LENGTH = 1024

LakehouseProvider = Callable[[], Lakehouse]

_log = logging.getLogger(__name__)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers post `Origin: null`
}
_LOGIN_ERRORS = {
    "1": "That email and password do not match an account. Check both and try again.",
    "unavailable": "The workspace database is not reachable right now. Try again in a minute.",
}


def build_routes(lakehouse_provider: LakehouseProvider) -> list[Route]:
    """The workspace's own routes. `lakehouse_provider` is called on each request, never before
    the first one; pass one that returns the same cached `Lakehouse` for the whole process."""
    endpoints = _Endpoints(lakehouse_provider)
    return [
        Route("/healthz", endpoints.healthz, methods=["GET"]),
        Route("/readyz", endpoints.readyz, methods=["GET"]),
        Route(LOGIN_PATH, endpoints.login_form, methods=["GET"]),
        Route(LOGIN_PATH, endpoints.login, methods=["POST"]),
        Route(LOGOUT_PATH, endpoints.logout, methods=["GET", "POST"]),
        Route("/auth/token", endpoints.token, methods=["POST"]),
        *build_event_routes(lakehouse_provider),  # POST /api/events/{source}
    ]


class _Endpoints:
    def __init__(self, lakehouse: LakehouseProvider) -> None:
        self._lakehouse = lakehouse

    async def healthz(self, request: Request) -> JSONResponse:
        if await run_in_threadpool(self._database_up):
            return JSONResponse({"status": "ok", "database": "up"}, headers=_NO_STORE)
        return JSONResponse(
            {"status": "unavailable", "database": "down"}, status_code=503, headers=_NO_STORE
        )

    async def readyz(self, request: Request) -> JSONResponse:
        readiness = await run_in_threadpool(self._readiness)
        status = 200 if readiness.ready else 503
        return JSONResponse(readiness.as_json(), status_code=status, headers=_NO_STORE)

    async def login_form(self, request: Request) -> HTMLResponse:
        error = _LOGIN_ERRORS.get(request.query_params.get("error", ""))
        return HTMLResponse(_login_page(error), headers=_PAGE_HEADERS)

    async def login(self, request: Request) -> Response:
        if not _same_origin(request):  # login CSRF: another site signing you in as someone else
            return PlainTextResponse("cross-site sign-in refused", status_code=403)
        form = await request.form()
        try:
            token, ttl = await run_in_threadpool(
                self._sign_in, _field(form, "email"), _field(form, "password")
            )
        except InvalidCredentials:
            return _redirect(f"{LOGIN_PATH}?error=1")
        except DatabaseError:
            return _redirect(f"{LOGIN_PATH}?error=unavailable")
        response = _redirect("/")
        response.set_cookie(SESSION_COOKIE, token, max_age=ttl, **_cookie_flags(request))
        return response

    async def logout(self, request: Request) -> Response:
        """Sign out: the cookie's token (and a bearer token, for API clients) goes on the deny
        list, so a copy of it is refused from now on; then the cookie is cleared."""
        tokens = [t for t in (request.cookies.get(SESSION_COOKIE), _bearer(request)) if t]
        await run_in_threadpool(self._sign_out, tokens)
        if request.cookies.get(SESSION_COOKIE) is None and _bearer(request) is not None:
            return Response(status_code=204, headers=_NO_STORE)
        response = _redirect(LOGIN_PATH)
        response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request))
        return response

    async def token(self, request: Request) -> JSONResponse:
        credentials = _json_credentials(await request.body())
        if credentials is None:
            return _json_error(
                400, "invalid_request", "send a JSON object with string `email` and `password`"
            )
        try:
            token, ttl = await run_in_threadpool(self._sign_in, *credentials)
        except InvalidCredentials:
            return _json_error(401, "invalid_credentials", "email or password is wrong")
        except DatabaseError:
            return _json_error(503, "unavailable", "the database is not reachable; retry later")
        body = {"access_token": token, "token_type": "bearer", "expires_in": ttl}
        return JSONResponse(body, headers=_NO_STORE)

    def _database_up(self) -> bool:
        try:
            return self._lakehouse().db.ping()
        except IpaiError:  # e.g. the embedded server could not start
            return False

    def _readiness(self) -> Readiness:
        try:
            return check_readiness(self._lakehouse())
        except IpaiError:  # e.g. the embedded server could not start
            return Readiness(database=False, schedulers=0)

    def _sign_out(self, tokens: list[str]) -> None:
        for token in tokens:
            try:
                lakehouse = self._lakehouse()
                sign_out(lakehouse.db, lakehouse.authenticate(token))
            except AuthError:
                pass  # expired, forged or signed out already: nothing left to refuse
            except IpaiError as exc:  # the cookie is still cleared; say so to the operator
                _log.warning("sign-out could not revoke a token: %s", exc)

    def _sign_in(self, email: str, password: str) -> tuple[str, int]:
        """A fresh token and its lifetime in seconds; raises `InvalidCredentials`."""
        if len(email) > MAX_EMAIL_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidCredentials("email or password is longer than any account's")
        lakehouse = self._lakehouse()
        token = sign_in(lakehouse.db, lakehouse.tokens, email, password)
        return token, lakehouse.settings.token_ttl_seconds


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _json_credentials(raw: bytes) -> tuple[str, str] | None:
    try:
        body: Any = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, Mapping):
        return None
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    return email, password


def _same_origin(request: Request) -> bool:
    """False when a browser says the form was posted from another origin (no header: not a
    browser form, e.g. curl; allowed)."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "path": "/",
        "httponly": True,
        "samesite": "lax",
        "secure": request.url.scheme == "https",
    }


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_NO_STORE)


def _json_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=_NO_STORE
    )


def _login_page(error: str | None = None) -> str:
    """The sign-in form; `error` is one of our own fixed messages, never user input."""
    alert = f'<p class="alert" role="alert">{error}</p>' if error else ""
    return _LOGIN_HTML.replace("{alert}", alert).replace("{action}", LOGIN_PATH)


_LOGIN_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · IPAI Databricks</title>
<style>
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center;
         font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color: #1b1f24; background: linear-gradient(160deg, #0f1b2d 0%, #1d3557 100%); }
  main { width: min(380px, calc(100vw - 32px)); background: #fff; border-radius: 12px;
         padding: 32px 32px 24px; box-shadow: 0 20px 50px rgba(0, 0, 0, .35); }
  .brand { display: flex; align-items: center; gap: 10px; margin-bottom: 4px; }
  .mark { width: 28px; height: 28px; border-radius: 7px; background: #ff3621; color: #fff;
          display: grid; place-items: center; font-weight: 700; font-size: 15px; }
  h1 { font-size: 20px; margin: 0; }
  .lead { color: #5b6470; margin: 0 0 20px; }
  label { display: block; font-weight: 600; font-size: 13px; margin: 14px 0 6px; }
  input { width: 100%; padding: 10px 12px; font: inherit; border: 1px solid #c9d1d9;
          border-radius: 8px; }
  input:focus { outline: 2px solid #ff3621; outline-offset: 0; border-color: transparent; }
  button { width: 100%; margin-top: 22px; padding: 11px; font: inherit; font-weight: 600;
           color: #fff; background: #ff3621; border: 0; border-radius: 8px; cursor: pointer; }
  button:hover { background: #e02d1a; }
  .alert { margin: 0 0 8px; padding: 10px 12px; border-radius: 8px; color: #8a1c10;
           background: #fdecea; border: 1px solid #f5c2bc; }
  footer { margin-top: 18px; color: #5b6470; font-size: 12.5px; }
  code { font-size: 12px; background: #f1f3f5; padding: 1px 4px; border-radius: 4px;
         white-space: nowrap; }
</style>
</head>
<body>
<main>
  <div class="brand"><span class="mark" aria-hidden="true">i</span><h1>IPAI Databricks</h1></div>
  <p class="lead">Sign in to your lakehouse workspace.</p>
  {alert}
  <form method="post" action="{action}">
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password"
           required>
    <button type="submit">Sign in</button>
  </form>
  <footer>No account yet? An admin creates one with <code>ipai users add</code>.</footer>
</main>
</body>
</html>
"""
