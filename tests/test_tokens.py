"""JWTs: Supabase claim shape, each refusal reason, JWKS over real HTTP, the secret file."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ipai_core.auth.tokens import TokenService, resolve_jwt_secret
from ipai_core.errors import ConfigError, InvalidToken
from ipai_core.settings import Settings

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256-987654"
T0 = 1_700_000_000.0
KID = "supabase-key-1"


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(clock: FakeClock) -> TokenService:
    return TokenService(secret=SECRET, ttl_seconds=60, clock=clock)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "user-1",
        "aud": "authenticated",
        "role": "authenticated",
        "iat": int(T0),
        "exp": int(T0) + 60,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _reason(service: TokenService, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        service.verify(token)
    return caught.value.reason


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- issue → verify -------------------------------------------------------------------------


def test_round_trip_has_supabase_claim_shape(service: TokenService) -> None:
    token = service.issue(user_id="user-1", email="a@example.com", roles=["analyst"])
    claims = service.verify(token)
    assert uuid.UUID(claims.pop("session_id")).version == 4
    assert uuid.UUID(claims.pop("jti")).version == 4  # the id sign-out puts on the deny list
    assert claims == {
        "sub": "user-1",
        "email": "a@example.com",
        "role": "authenticated",
        "aud": "authenticated",
        "iat": int(T0),
        "exp": int(T0) + 60,
        "app_metadata": {"provider": "ipai", "providers": ["ipai"], "roles": ["analyst"]},
        "user_metadata": {},
        "aal": "aal1",
        "is_anonymous": False,
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_issuer_extra_claims_and_ttl(clock: FakeClock) -> None:
    service = TokenService(secret=SECRET, issuer="https://auth.example", clock=clock)
    token = service.issue(
        user_id="agent-7",
        email=None,
        roles=[],
        role="service_role",
        extra_claims={"ipai_agent": {"name": "genie"}},
        ttl_seconds=10,
    )
    claims = service.verify(token)
    assert claims["iss"] == "https://auth.example"
    assert claims["role"] == "service_role"
    assert claims["ipai_agent"] == {"name": "genie"}
    assert claims["exp"] - claims["iat"] == 10


def test_each_token_has_its_own_session_id(service: TokenService) -> None:
    first = service.verify(service.issue(user_id="u", email=None, roles=[]))
    second = service.verify(service.issue(user_id="u", email=None, roles=[]))
    assert first["session_id"] != second["session_id"]


def test_issue_refuses_a_role_postgres_would_not_know(service: TokenService) -> None:
    with pytest.raises(ConfigError):
        service.issue(user_id="u", email=None, roles=[], role="postgres")
    with pytest.raises(ConfigError):
        service.issue(user_id="u", email=None, roles=[], extra_claims={"role": "postgres"})


def test_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError):
        TokenService(secret="too-short")


# --- refusals ---------------------------------------------------------------------------------


def test_expired_token_is_refused(service: TokenService, clock: FakeClock) -> None:
    token = service.issue(user_id="user-1", email=None, roles=[])
    clock.now = T0 + 59
    assert service.verify(token)["sub"] == "user-1"
    clock.now = T0 + 60
    assert _reason(service, token) == "expired"


def test_token_not_valid_yet_is_refused(service: TokenService) -> None:
    token = jwt.encode(_claims(nbf=int(T0) + 30), SECRET, algorithm="HS256")
    assert _reason(service, token) == "expired"


def test_other_secret_is_a_bad_signature(service: TokenService, clock: FakeClock) -> None:
    forger = TokenService(secret=OTHER_SECRET, clock=clock)
    token = forger.issue(user_id="user-1", email=None, roles=[], role="service_role")
    assert _reason(service, token) == "bad_signature"


def test_tampered_payload_is_a_bad_signature(service: TokenService) -> None:
    header, _, signature = service.issue(user_id="u", email=None, roles=[]).split(".")
    forged = f"{header}.{_b64url(_claims(role='service_role'))}.{signature}"
    assert _reason(service, forged) == "bad_signature"


def test_alg_none_is_refused(service: TokenService) -> None:
    token = f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(_claims())}."
    assert _reason(service, token) in {"algorithm_not_allowed", "malformed"}


def test_hs512_is_refused(service: TokenService) -> None:
    token = jwt.encode(_claims(), SECRET * 2, algorithm="HS512")
    assert _reason(service, token) == "algorithm_not_allowed"


def test_wrong_audience_is_refused(clock: FakeClock) -> None:
    service = TokenService(secret=SECRET, audience="ipai-workspace", clock=clock)
    token = jwt.encode(_claims(aud="authenticated"), SECRET, algorithm="HS256")
    assert _reason(service, token) == "wrong_audience"


def test_wrong_issuer_is_refused(clock: FakeClock) -> None:
    service = TokenService(secret=SECRET, issuer="https://auth.example", clock=clock)
    token = jwt.encode(_claims(iss="https://evil.example"), SECRET, algorithm="HS256")
    assert _reason(service, token) == "wrong_issuer"


@pytest.mark.parametrize(
    "garbage", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.!!!.x", "...."]
)
def test_garbage_is_malformed(service: TokenService, garbage: str) -> None:
    assert _reason(service, garbage) == "malformed"


@pytest.mark.parametrize("claim", ["exp", "sub", "aud", "role"])
def test_missing_claim_is_refused(service: TokenService, claim: str) -> None:
    token = jwt.encode(_claims(**{claim: None}), SECRET, algorithm="HS256")
    assert _reason(service, token) == "missing_claim"


def test_non_numeric_exp_is_malformed(service: TokenService) -> None:
    token = jwt.encode(_claims(exp="tomorrow"), SECRET, algorithm="HS256")
    assert _reason(service, token) == "malformed"


@pytest.mark.parametrize("role", ["postgres", "supabase_admin", "", ["service_role"]])
def test_bad_role_is_refused(service: TokenService, role: object) -> None:
    token = jwt.encode(_claims(role=role), SECRET, algorithm="HS256")
    assert _reason(service, token) == "bad_role"


# --- JWKS (Supabase Auth's asymmetric signing keys) -------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Iterator[str]:
    keys = [
        {**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": KID, "alg": "RS256"},
        {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec-1", "alg": "ES256"},
    ]
    body = json.dumps({"keys": keys}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/auth/v1/.well-known/jwks.json"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def jwks_service(jwks_url: str, clock: FakeClock) -> TokenService:
    return TokenService(secret=SECRET, jwks_url=jwks_url, clock=clock)


def test_rs256_token_verifies_through_jwks(
    jwks_service: TokenService, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": KID})
    assert jwks_service.verify(token)["sub"] == "user-1"


def test_es256_token_verifies_through_jwks(
    jwks_service: TokenService, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    assert jwks_service.verify(token)["sub"] == "user-1"


def test_hs256_still_verifies_with_jwks_configured(jwks_service: TokenService) -> None:
    token = jwks_service.issue(user_id="user-1", email=None, roles=[])
    assert jwks_service.verify(token)["sub"] == "user-1"


def test_rs256_unknown_kid_is_refused(
    jwks_service: TokenService, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "rotated-away"})
    assert _reason(jwks_service, token) == "unknown_key"


def test_rs256_token_signed_by_another_key_is_a_bad_signature(jwks_service: TokenService) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), stranger, algorithm="RS256", headers={"kid": KID})
    assert _reason(jwks_service, token) == "bad_signature"


def test_es256_header_on_an_rsa_kid_is_refused(
    jwks_service: TokenService, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": KID})
    assert _reason(jwks_service, token) == "algorithm_not_allowed"


def test_rs256_without_jwks_url_is_refused(
    service: TokenService, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": KID})
    assert _reason(service, token) == "algorithm_not_allowed"


def test_unreachable_jwks_is_an_unknown_key(clock: FakeClock, rsa_key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = TokenService(secret=SECRET, jwks_url=f"http://127.0.0.1:{port}/jwks", clock=clock)
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": KID})
    assert _reason(service, token) == "unknown_key"


# --- settings and the generated secret --------------------------------------------------------


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **values)  # type: ignore[call-arg]


def test_configured_secret_wins(tmp_path: Path) -> None:
    assert resolve_jwt_secret(_settings(tmp_path, jwt_secret=SECRET)) == SECRET
    assert not (tmp_path / "data" / "jwt_secret").exists()


def test_secret_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    settings = _settings(tmp_path, jwt_secret=None)
    first = resolve_jwt_secret(settings)
    path = tmp_path / "data" / "jwt_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == first
    assert len(first) >= 48
    assert resolve_jwt_secret(settings) == first


def test_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, jwt_secret=None)
    resolve_jwt_secret(settings)
    os.chmod(tmp_path / "data" / "jwt_secret", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        resolve_jwt_secret(settings)


def test_from_settings_uses_audience_issuer_and_ttl(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, jwt_audience="ipai", jwt_issuer="https://ipai.local", token_ttl_seconds=120
    )
    service = TokenService.from_settings(settings)
    claims = service.verify(service.issue(user_id="u", email=None, roles=[]))
    assert (claims["aud"], claims["iss"]) == ("ipai", "https://ipai.local")
    assert claims["exp"] - claims["iat"] == 120
