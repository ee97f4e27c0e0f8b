"""The workspace's own HTTP routes (health, sign-in cookie, sign-out, password grant) against the
real test database, through Starlette's TestClient; one slow test serves the whole workspace."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from conftest import TEST_JWT_SECRET
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from ipai_core.auth.tokens import TokenService
from ipai_core.db.logins import logins_for
from ipai_core.db.pool import Database
from ipai_core.lakehouse import Lakehouse
from ipai_core.settings import Settings
from ipai_core.workspace.routes import SESSION_COOKIE, build_routes
from tests.support.served_workspace import free_port, served_workspace

with warnings.catch_warnings():
    # Starlette >= 1.x asks for the `httpx2` package and warns (once, at import) when it finds
    # plain `httpx`; the TestClient works the same with either.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

UserMaker = Callable[..., tuple[str, str, str]]


def _client(lakehouse: Lakehouse, base_url: str = "http://testserver") -> TestClient:
    app = Starlette(routes=build_routes(lambda: lakehouse))
    return TestClient(app, base_url=base_url, follow_redirects=False)


@pytest.fixture
def client(lakehouse: Lakehouse) -> Iterator[TestClient]:
    with _client(lakehouse) as test_client:
        yield test_client


def _session_cookie(response: httpx.Response) -> dict[str, str] | None:
    """The `ipai_session` Set-Cookie as {"value": …, attribute: …}, or None when not set."""
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if SESSION_COOKIE in cookie:
            morsel = cookie[SESSION_COOKIE]
            flags = {key: str(morsel[key]) for key in morsel if morsel[key]}
            return {"value": morsel.value, **flags}
    return None


# --- /healthz ---------------------------------------------------------------------------------


def test_healthz_is_ok_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


def test_healthz_is_503_when_the_database_goes_down(settings: Settings) -> None:
    closed_port = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"
    lakehouse = Lakehouse(
        settings,
        Database(logins_for(closed_port, TEST_JWT_SECRET)),
        TokenService.from_settings(settings),
    )
    with _client(lakehouse) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}


def test_healthz_is_503_when_the_lakehouse_cannot_open(settings: Settings) -> None:
    closed_port = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"
    down = settings.model_copy(update={"database_url": SecretStr(closed_port)})
    app = Starlette(routes=build_routes(lambda: Lakehouse.open(down)))
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}


def test_routes_open_the_lakehouse_lazily(lakehouse: Lakehouse) -> None:
    calls: list[int] = []

    def provider() -> Lakehouse:
        calls.append(1)
        return lakehouse

    app = Starlette(routes=build_routes(provider))
    assert calls == []
    with TestClient(app) as client:
        client.get("/healthz")
    assert calls == [1]


# --- the sign-in form -------------------------------------------------------------------------


def test_login_form_is_self_contained(client: TestClient) -> None:
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<form method="post" action="/auth/login"' in html
    assert 'name="email"' in html and 'name="password"' in html
    assert 'role="alert"' not in html
    for external in ("http://", "https://", "<script", "<link", "src="):
        assert external not in html
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    # With "no-referrer" a browser posts the form with `Origin: null`, which the login refuses.
    assert response.headers["referrer-policy"] == "same-origin"


def test_login_form_shows_the_refusal(client: TestClient) -> None:
    html = client.get("/auth/login", params={"error": "1"}).text
    assert 'role="alert"' in html


def test_good_credentials_set_a_verified_http_only_cookie(
    client: TestClient, lakehouse: Lakehouse, settings: Settings, make_user: UserMaker
) -> None:
    email, password, _ = make_user(["finance"])
    response = client.post("/auth/login", data={"email": email, "password": password})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = _session_cookie(response)
    assert cookie is not None
    assert cookie["httponly"] is not None
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == str(settings.token_ttl_seconds)
    assert "secure" not in cookie  # plain http here
    principal = lakehouse.authenticate(cookie["value"])
    assert principal.email == email
    assert principal.roles == ("finance",)


def test_cookie_is_secure_over_https(lakehouse: Lakehouse, make_user: UserMaker) -> None:
    email, password, _ = make_user([])
    with _client(lakehouse, base_url="https://testserver") as client:
        response = client.post("/auth/login", data={"email": email, "password": password})
    cookie = _session_cookie(response)
    assert cookie is not None
    assert "secure" in cookie


@pytest.mark.parametrize("wrong", ["password", "email", "both"])
def test_bad_credentials_redirect_back_without_a_cookie(
    client: TestClient, make_user: UserMaker, wrong: str
) -> None:
    email, password, _ = make_user([])
    if wrong in ("email", "both"):
        email = "nobody-" + email
    if wrong in ("password", "both"):
        password = password + "x"
    response = client.post("/auth/login", data={"email": email, "password": password})
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?error=1"  # the same, whatever was wrong
    assert _session_cookie(response) is None


def test_sign_in_posted_from_another_site_is_refused(
    client: TestClient, make_user: UserMaker
) -> None:
    email, password, _ = make_user([])
    form = {"email": email, "password": password}
    foreign = client.post("/auth/login", data=form, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert _session_cookie(foreign) is None
    ours = client.post("/auth/login", data=form, headers={"origin": "http://testserver"})
    assert ours.status_code == 303
    assert _session_cookie(ours) is not None


def test_empty_form_is_refused_like_a_wrong_password(client: TestClient) -> None:
    response = client.post("/auth/login", data={})
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?error=1"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_logout_clears_the_cookie(client: TestClient, method: str) -> None:
    client.cookies.set(SESSION_COOKIE, "some.token.value")
    response = client.request(method, "/auth/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login"
    cookie = _session_cookie(response)
    assert cookie is not None
    assert cookie["value"] == ""
    assert cookie["max-age"] == "0"
    assert cookie["path"] == "/"


# --- /auth/token (password grant for API clients) ---------------------------------------------


def test_token_endpoint_issues_a_bearer_token(
    client: TestClient, lakehouse: Lakehouse, settings: Settings, make_user: UserMaker
) -> None:
    email, password, _ = make_user(["analyst"])
    response = client.post("/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.token_ttl_seconds
    assert lakehouse.authenticate(body["access_token"]).email == email
    assert response.headers["cache-control"] == "no-store"


def test_token_endpoint_refuses_bad_credentials(client: TestClient, make_user: UserMaker) -> None:
    email, password, _ = make_user([])
    response = client.post("/auth/token", json={"email": email, "password": "wrong-" + password})
    assert response.status_code == 401
    assert "access_token" not in response.json()
    assert response.json()["error"]


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"email": "a@b.c"}', b'{"email": 1}'])
def test_token_endpoint_rejects_malformed_requests(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/auth/token", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- the real server --------------------------------------------------------------------------


@pytest.mark.slow
def test_served_workspace_signs_in_and_serves_streamlit(
    settings: Settings, make_user: UserMaker, tmp_path: Path
) -> None:
    email, password, _ = make_user(["analyst"])
    with (
        served_workspace(settings, tmp_path) as base,
        httpx.Client(base_url=base, timeout=10, follow_redirects=False) as http,
    ):
        login = http.post("/auth/login", data={"email": email, "password": password})
        assert login.status_code == 303
        assert login.headers["location"] == "/"
        token = http.cookies.get(SESSION_COOKIE)
        assert token
        home = http.get("/")
        assert home.status_code == 200
        assert '<div id="root">' in home.text  # Streamlit's single-page app
        assert http.get("/_stcore/health").status_code == 200
        logout = http.get("/auth/logout")
        assert logout.status_code == 303
        assert not http.cookies.get(SESSION_COOKIE)
