"""A pool of psycopg 3 connections to the workspace database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ipai_core.db.location import redacted_url
from ipai_core.errors import DatabaseError

POOL_TIMEOUT_S = 15


class Database:
    """Pooled connections to one PostgreSQL database; opened lazily, closed explicitly."""

    def __init__(self, url: str, *, max_size: int = 8, statement_timeout_ms: int = 60_000) -> None:
        self.url = url
        self._pool = ConnectionPool(
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

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; the caller owns its transaction (commit or rollback)."""
        if self._pool.closed:
            self._pool.open(wait=False)
        try:
            conn = self._pool.getconn()
        except PoolTimeout as exc:
            raise DatabaseError(
                f"no database connection within {POOL_TIMEOUT_S} s from "
                f"`{redacted_url(self.url)}`; check that the server is running "
                "(`ipai db status`) or raise IPAI_POOL_MAX_SIZE"
            ) from exc
        try:
            yield conn
        finally:
            self._pool.putconn(conn)  # rolls back whatever the caller left open

    def ping(self) -> bool:
        """True when a trivial query answers; used by `/healthz`."""
        try:
            with psycopg.connect(self.url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def close(self) -> None:
        self._pool.close()
