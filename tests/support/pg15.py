"""The CI machine's second PostgreSQL (15, 127.0.0.1:5432, trust auth): where it is, and the
marks that skip a module with a clear reason where it does not answer."""

from __future__ import annotations

import os

import psycopg
import pytest

PG15_URL = os.environ.get("IPAI_TEST_PG15_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _reachable() -> bool:
    try:
        with psycopg.connect(PG15_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


PG15_MARKS = [
    pytest.mark.pg15,
    pytest.mark.skipif(
        not _reachable(),
        reason=f"no PostgreSQL answers at {PG15_URL} "
        "(the CI machine runs one; set IPAI_TEST_PG15_URL to use another)",
    ),
]
