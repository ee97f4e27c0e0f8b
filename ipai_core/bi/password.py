"""Passwords of BI logins: generated here, handed to the person once, and given to the server only
as a SCRAM-SHA-256 verifier, so the clear text never travels to Postgres or its log."""

from __future__ import annotations

import secrets

PASSWORD_BYTES = 24  # 192 random bits, 32 URL-safe characters


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)
