"""Supabase-compatible JWTs: issue HS256 access tokens, verify HS256 or JWKS-signed ones.

Issued tokens carry the claims Supabase Auth puts in its access tokens, so a token from here works
against a Supabase project that shares the JWT secret, and Supabase's tokens verify here. The
`role` claim later becomes the request's Postgres role (`SET LOCAL ROLE`), so only the three
Supabase roles pass verification.

Every refusal raises :class:`~ipai_core.errors.InvalidToken`; its `reason` is one of:

    expired                outside its validity window (`exp` passed, or `nbf` still ahead)
    bad_signature          signed with another key
    wrong_audience         `aud` is not this service's audience
    wrong_issuer           `iss` is not the configured issuer
    algorithm_not_allowed  `alg` is not HS256 (nor RS256/ES256 with a JWKS URL), e.g. `none`
    malformed              not a JWT, or a registered claim has the wrong type
    missing_claim          `exp`, `sub`, `aud` or `role` is absent (or `iss`, if one is set)
    unknown_key            no JWKS key has the token's `kid`, or the JWKS could not be fetched
    bad_role               `role` is not `anon`, `authenticated` or `service_role`
    revoked                still signed, but no longer usable: signed out, its account deleted,
                           banned or signed out everywhere, its agent removed or inactive
                           (checked against the database by `ipai_core.auth.revocation`)

Issued tokens carry a `jti`, the id sign-out puts on the deny list.
"""

from __future__ import annotations

import math
import os
import secrets
import stat
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt

from ipai_core.errors import ConfigError, InvalidToken
from ipai_core.private_file import create_once
from ipai_core.settings import Settings

ALLOWED_ROLES = frozenset({"anon", "authenticated", "service_role"})
JWT_SECRET_FILE = "jwt_secret"  # noqa: S105 - a file name, not a secret

_HS256 = "HS256"
_JWKS_ALGORITHMS = ("RS256", "ES256")
_REQUIRED_CLAIMS = ["exp", "sub", "aud", "role"]
_MIN_SECRET_BYTES = 32  # RFC 7518 §3.2 (key >= hash size); Supabase also asks for 32+ characters
_JWKS_TIMEOUT_SECONDS = 10
_SIGN_IN_AGAIN = "sign in again to get a new token"

# PyJWT failures, most specific first (InvalidSignatureError is a DecodeError, for instance).
_PYJWT_FAILURES: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.InvalidSignatureError, "bad_signature", "token signature does not match"),
    (jwt.InvalidAudienceError, "wrong_audience", "token is meant for another audience"),
    (jwt.InvalidIssuerError, "wrong_issuer", "token was issued by another issuer"),
    (jwt.InvalidAlgorithmError, "algorithm_not_allowed", "token algorithm is not allowed"),
    (jwt.MissingRequiredClaimError, "missing_claim", "token lacks a required claim"),
)


def resolve_jwt_secret(settings: Settings) -> str:
    """`IPAI_JWT_SECRET` if set; else a random secret generated once into the data dir."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    return _load_or_create_secret(settings.data_dir / JWT_SECRET_FILE)


def _load_or_create_secret(path: Path) -> str:
    # Created once, atomically: concurrent first runs agree on one secret and never read half.
    secret = secrets.token_urlsafe(48)
    return secret if create_once(path, secret) else _read_secret(path)


def _read_secret(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise ConfigError(
            f"JWT secret file `{path}` has mode {mode:04o}, so other users can read it: "
            f"run `chmod 600 {path}` (and rotate the secret if the machine is shared)."
        )
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise ConfigError(
            f"JWT secret file `{path}` is empty: delete it to generate a new secret, "
            "or set IPAI_JWT_SECRET."
        )
    return secret


class TokenService:
    """Issues and verifies the platform's JWTs; see the module docstring for refusal reasons."""

    def __init__(
        self,
        *,
        secret: str,
        audience: str = "authenticated",
        issuer: str | None = None,
        jwks_url: str | None = None,
        ttl_seconds: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret.encode("utf-8")) < _MIN_SECRET_BYTES:
            raise ConfigError(
                f"JWT secret is shorter than {_MIN_SECRET_BYTES} bytes: set IPAI_JWT_SECRET to "
                "a longer random value, or unset it to have one generated."
            )
        _check_ttl(ttl_seconds)
        self._secret = secret
        self.audience = audience
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._jwks = _jwks_client(jwks_url) if jwks_url else None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenService:
        return cls(
            secret=resolve_jwt_secret(settings),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            jwks_url=settings.jwt_jwks_url,
            ttl_seconds=settings.token_ttl_seconds,
        )

    def issue(
        self,
        *,
        user_id: str,
        email: str | None,
        roles: Sequence[str],
        role: str = "authenticated",
        company_ids: Sequence[int] | None = None,
        extra_claims: Mapping[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> str:
        """An HS256 token with Supabase Auth's claim shape; `company_ids` (when given) limits
        finance data to those companies (`app_metadata.company_ids`); `extra_claims` override
        the defaults."""
        if isinstance(roles, str):
            raise ConfigError(f"`roles` must be a list of role names, not the string `{roles}`.")
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        _check_ttl(ttl)
        now = int(self._clock())
        app_metadata: dict[str, Any] = {
            "provider": "ipai",
            "providers": ["ipai"],
            "roles": list(roles),
        }
        if company_ids is not None:
            app_metadata["company_ids"] = sorted(int(c) for c in company_ids)
        claims: dict[str, Any] = {
            "sub": user_id,
            "email": email or "",  # Supabase Auth sends "" for a user without an email
            "role": role,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl,
            "app_metadata": app_metadata,
            "user_metadata": {},
            "aal": "aal1",
            "session_id": str(uuid.uuid4()),
            "is_anonymous": False,
            "jti": str(uuid.uuid4()),
        }
        if self.issuer is not None:
            claims["iss"] = self.issuer
        claims.update(extra_claims or {})
        if not _is_allowed_role(claims["role"]):
            raise ConfigError(
                f"cannot issue a token with role `{claims['role']}`: "
                f"use one of {', '.join(sorted(ALLOWED_ROLES))}."
            )
        return jwt.encode(claims, self._secret, algorithm=_HS256)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, once signature, algorithm, time window, audience and role pass."""
        algorithm, key = self._key_for(_unverified_header(token))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=0,
                # Time claims are checked below against `self._clock`, the test seam.
                options={
                    "require": _REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise _translate(exc) from exc
        self._check_window(claims)
        _check_subject_and_role(claims)
        return claims

    def _key_for(self, header: dict[str, Any]) -> tuple[str, str | jwt.PyJWK]:
        """Pick the key from our configuration, never from the token: HS256 → secret, else JWKS."""
        alg = header.get("alg")
        if alg == _HS256:
            return _HS256, self._secret
        if self._jwks is not None and alg in _JWKS_ALGORITHMS:
            return str(alg), self._jwks_key(self._jwks, header.get("kid"))
        allowed = [_HS256, *(_JWKS_ALGORITHMS if self._jwks is not None else ())]
        raise InvalidToken(
            f"token algorithm `{str(alg)[:20]}` is not allowed (accepted: {', '.join(allowed)}); "
            f"{_SIGN_IN_AGAIN}.",
            reason="algorithm_not_allowed",
        )

    def _jwks_key(self, client: jwt.PyJWKClient, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str) or not kid:
            raise InvalidToken(
                f"token has no `kid` header to look up in `{self.jwks_url}`; {_SIGN_IN_AGAIN}.",
                reason="unknown_key",
            )
        try:
            return client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise InvalidToken(
                f"could not fetch signing keys from `{self.jwks_url}` ({exc}); check "
                "IPAI_JWT_JWKS_URL and that Supabase Auth is reachable, then try again.",
                reason="unknown_key",
            ) from exc
        except (jwt.PyJWTError, ValueError, OSError) as exc:
            raise InvalidToken(
                f"no usable signing key with kid `{kid[:64]}` at `{self.jwks_url}`; "
                f"{_SIGN_IN_AGAIN}.",
                reason="unknown_key",
            ) from exc

    def _check_window(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        if _timestamp(claims, "exp") <= now:
            raise InvalidToken(f"token has expired; {_SIGN_IN_AGAIN}.", reason="expired")
        if "nbf" in claims and _timestamp(claims, "nbf") > now:
            raise InvalidToken(
                "token is not valid yet (`nbf` is in the future); check this machine's clock.",
                reason="expired",
            )
        if "iat" in claims:
            # Type only: a future `iat` from a server a second ahead of us is not worth refusing.
            _timestamp(claims, "iat")


def _jwks_client(url: str) -> jwt.PyJWKClient:
    try:
        return jwt.PyJWKClient(url, timeout=_JWKS_TIMEOUT_SECONDS)
    except jwt.PyJWKClientError as exc:
        raise ConfigError(f"JWKS URL `{url}` is not usable ({exc}): use an https:// URL.") from exc


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(
            f"token is not a well-formed JWT ({exc}); {_SIGN_IN_AGAIN}.", reason="malformed"
        ) from exc


def _translate(exc: jwt.PyJWTError) -> InvalidToken:
    for error_type, reason, what in _PYJWT_FAILURES:
        if isinstance(exc, error_type):
            return InvalidToken(f"{what} ({exc}); {_SIGN_IN_AGAIN}.", reason=reason)
    return InvalidToken(f"token is malformed ({exc}); {_SIGN_IN_AGAIN}.", reason="malformed")


def _timestamp(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(
            f"token claim `{name}` is not a number of seconds; {_SIGN_IN_AGAIN}.",
            reason="malformed",
        )
    return float(value)


def _check_subject_and_role(claims: dict[str, Any]) -> None:
    if not claims["sub"]:
        raise InvalidToken(
            f"token has an empty `sub` claim; {_SIGN_IN_AGAIN}.", reason="missing_claim"
        )
    role = claims["role"]
    if not _is_allowed_role(role):
        raise InvalidToken(
            f"token role `{str(role)[:40]}` is not one of {', '.join(sorted(ALLOWED_ROLES))}; "
            f"{_SIGN_IN_AGAIN}.",
            reason="bad_role",
        )


def _is_allowed_role(role: object) -> bool:
    return isinstance(role, str) and role in ALLOWED_ROLES


def _check_ttl(ttl_seconds: int) -> None:
    if ttl_seconds <= 0:
        raise ConfigError(f"token lifetime `{ttl_seconds}` seconds must be positive.")
