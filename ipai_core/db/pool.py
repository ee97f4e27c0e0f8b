"""Pools of psycopg 3 connections to the workspace database, one per login role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ipai_core.db.location import redacted_url
from ipai_core.db.logins import Login, Logins
from ipai_core.errors import DatabaseError

POOL_TIMEOUT_S = 15


class Database:
    """Pooled connections to one PostgreSQL database, a pool per login role (`Logins`); each pool
    is opened on first use and all are closed explicitly."""

    def __init__(
        self, logins: Logins, *, max_size: int = 8, statement_timeout_ms: int = 60_000
    ) -> None:
        self.logins = logins
        self._pools = {
            login: ConnectionPool(
                url,
                min_size=1,
                max_size=max_size,
                open=False,
                timeout=POOL_TIMEOUT_S,
                kwargs={
                    "autocommit": False,
                    "options": f"-c statement_timeout={statement_timeout_ms}",
                    "application_name": "ipai",
                },
            )
            for login, url in logins
        }

    @property
    def url(self) -> str:
        """The people's login URL: for session-level advisory locks and `host:port/db` labels."""
        return self.logins.users

    @contextmanager
    def connection(self, login: Login = "users") -> Iterator[psycopg.Connection]:
        """A pooled connection of `login`; the caller owns its transaction (commit or rollback)."""
        pool = self._pools[login]
        if pool.closed:
            pool.open(wait=False)
        try:
            conn = pool.getconn()
        except PoolTimeout as exc:
            raise DatabaseError(
                f"no database connection within {POOL_TIMEOUT_S} s from "
                f"`{redacted_url(self.logins.url(login))}`; check that the server is running "
                "(`ipai db status`) or raise IPAI_POOL_MAX_SIZE"
            ) from exc
        try:
            yield conn
        finally:
            pool.putconn(conn)  # rolls back whatever the caller left open

    def ping(self) -> bool:
        """True when a trivial query answers; used by `/healthz`."""
        try:
            with psycopg.connect(self.url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
