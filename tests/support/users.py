"""New local users for tests: an account with application roles, already signed in."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from ipai_core.auth import users
from ipai_core.lakehouse import Lakehouse


@dataclass(frozen=True)
class SignedInUser:
    id: str
    email: str
    password: str
    token: str


def new_user(
    lake: Lakehouse, roles: Sequence[str] = (), *, email: str | None = None
) -> SignedInUser:
    """A new user with `roles` (a unique e-mail unless one is given) and a verified token."""
    email = email or f"user-{secrets.token_hex(4)}@example.test"
    password = secrets.token_urlsafe(12)
    record = users.add_user(lake.db, email, password, list(roles))
    token = users.sign_in(lake.db, lake.tokens, email, password)
    return SignedInUser(str(record.id), email, password, token)
