"""`Lakehouse`: the one object apps, the CLI and services hold — settings, the connection pool and
the token service — with the one obvious way to run SQL as somebody."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import polars as pl
from psycopg import sql

from ipai_core.auth.revocation import current_claims
from ipai_core.auth.tokens import TokenService, resolve_jwt_secret
from ipai_core.db.location import check_reachable, database_url
from ipai_core.db.logins import open_logins
from ipai_core.db.pool import Database
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import Params, ScopedSession, session
from ipai_core.settings import Settings, get_settings


class Lakehouse:
    """Entry point: `Lakehouse.open()`, then `authenticate(token)` and `query(principal, sql)`."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        tokens: TokenService,
        *,
        owner_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.tokens = tokens
        self.owner_url = owner_url  # setup the service role cannot do (postgres_fdw servers)

    @classmethod
    def open(cls, settings: Settings | None = None) -> Lakehouse:
        """Connect to `IPAI_DATABASE_URL`, or start the embedded server when it is unset.

        The database is tried once right away, so an unreachable one raises `DatabaseError` here
        (within seconds) rather than at the first query after the pool's timeout. Sessions sign
        in as the login roles (`ipai_core.db.logins`), never as the owner.
        """
        settings = settings or get_settings()
        owner_url = database_url(settings)
        check_reachable(owner_url)
        db = Database(
            open_logins(owner_url, resolve_jwt_secret(settings)),
            max_size=settings.pool_max_size,
            statement_timeout_ms=settings.statement_timeout_ms,
        )
        return cls(settings, db, TokenService.from_settings(settings), owner_url=owner_url)

    def authenticate(self, token: str) -> Principal:
        """Verify a JWT (raises `InvalidToken`) and return the principal it names, with the
        account's current roles and company scope; a signed-out token, a deleted user or a
        removed agent is refused here (`ipai_core.auth.revocation`)."""
        claims = current_claims(self.db, self.tokens.verify(token))
        return Principal.from_verified_claims(claims)

    def session(self, principal: Principal) -> AbstractContextManager[ScopedSession]:
        """One transaction as `principal`, under its grants and RLS policies."""
        return session(self.db, principal)

    def query(
        self, principal: Principal, statement: str | sql.Composable, params: Params = None
    ) -> pl.DataFrame:
        """Run one read as `principal`; rows come back as a Polars DataFrame."""
        with self.session(principal) as s:
            return s.query(statement, params)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Lakehouse:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
