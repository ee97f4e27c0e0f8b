"""Authentication: who is calling, proven by a password or a token.

This package owns the credential primitives:

- `passwords` — scrypt password hashes in a self-describing string (`scrypt$n$r$p$salt$hash`).
- `tokens` — Supabase-compatible JWTs: issue HS256 access tokens, verify HS256 or Supabase Auth's
  JWKS-signed ones, and refuse anything else with `InvalidToken` and a machine-readable `reason`.

Built on them: `users` (local users, roles, company scopes and sign-in, through the database's
SECURITY DEFINER functions), `claims` (what a token's claims allow, rebuilt from the database's
answer) and `revocation` (the check `Lakehouse.authenticate` makes at every request, and
sign-out).
"""

from ipai_core.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from ipai_core.auth.tokens import ALLOWED_ROLES, TokenService, resolve_jwt_secret

__all__ = [
    "ALLOWED_ROLES",
    "MIN_PASSWORD_LENGTH",
    "TokenService",
    "hash_password",
    "needs_rehash",
    "resolve_jwt_secret",
    "verify_password",
]
