"""Availability: `/readyz` (the database and a live scheduler heartbeat) beside `/healthz`, and
the scheduler's uptime probe of the workspace recording up/down and latency. The module has its
own database, so no other test's scheduler heartbeat makes it ready."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest
from conftest import MIGRATIONS, make_settings
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from ipai_core.errors import DatabaseError
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.runner import migrate
from ipai_core.observability.jobs import UptimeProbes
from ipai_core.scheduler import Scheduler, SchedulerOptions
from ipai_core.workspace.routes import build_routes
from tests.support.http_receiver import http_receiver

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def url(new_database: Callable[[], str]) -> str:
    created = new_database()
    with psycopg.connect(created, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
    return created


@pytest.fixture(scope="module")
def lh(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakehouse]:
    with Lakehouse.open(make_settings(url, tmp_path_factory.mktemp("readyz"))) as opened:
        yield opened


@pytest.fixture
def owner(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM ipai_scheduler_heartbeat")
        yield conn


def _client(provider: Callable[[], Lakehouse]) -> TestClient:
    return TestClient(Starlette(routes=build_routes(provider)))


def test_not_ready_without_a_scheduler_heartbeat(lh: Lakehouse, owner: psycopg.Connection) -> None:
    with _client(lambda: lh) as client:
        ready, live = client.get("/readyz"), client.get("/healthz")

    assert live.status_code == 200, "liveness does not depend on the scheduler"
    assert ready.status_code == 503
    assert ready.json() | {"last_beat_at": None} == {
        "status": "unavailable",
        "database": "up",
        "scheduler": "none",
        "live_schedulers": 0,
        "last_beat_at": None,
    }
    assert ready.headers["cache-control"] == "no-store"


def test_ready_while_a_scheduler_beats_and_not_after_it_stops(
    lh: Lakehouse, owner: psycopg.Connection
) -> None:
    scheduler = Scheduler(lh, options=SchedulerOptions(interval_s=5), kinds=[])
    with _client(lambda: lh) as client:
        scheduler.tick()
        while_beating = client.get("/readyz")
        scheduler.close()  # a clean stop marks the heartbeat stopped
        after_stop = client.get("/readyz")

    assert while_beating.status_code == 200, while_beating.json()
    body = while_beating.json()
    assert (body["status"], body["scheduler"], body["live_schedulers"]) == ("ready", "live", 1)
    assert body["last_beat_at"]
    assert after_stop.status_code == 503


def test_a_stale_heartbeat_is_not_ready(lh: Lakehouse, owner: psycopg.Connection) -> None:
    scheduler = Scheduler(lh, options=SchedulerOptions(interval_s=5), kinds=[])
    scheduler.tick()
    grace = timedelta(seconds=lh.settings.readiness_scheduler_grace_s)
    owner.execute(
        "UPDATE ipai_scheduler_heartbeat SET last_beat_at = now() - %s - interval '11 seconds'",
        [grace],
    )  # silent for longer than twice its 5 s interval plus the grace: a crashed scheduler
    with _client(lambda: lh) as client:
        response = client.get("/readyz")  # never closed: it stands in for a crashed scheduler

    assert response.status_code == 503


def test_not_ready_when_the_database_is_down() -> None:
    def unavailable() -> Lakehouse:
        raise DatabaseError("cannot connect to the database")

    with _client(unavailable) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_the_scheduler_probes_the_workspace_and_records_up_and_down(
    lh: Lakehouse, owner: psycopg.Connection
) -> None:
    with http_receiver() as workspace:
        workspace.script["/healthz"] = [200, 503]
        probes = UptimeProbes(workspace.url("/healthz"))
        for _ in range(2):
            owner.execute("DELETE FROM ipai_scheduled_run WHERE job_kind = 'uptime_probe'")
            Scheduler(lh, kinds=[probes]).run_once()

    rows = owner.execute(
        "SELECT up, status_code, latency_ms, error, url FROM ipai_uptime_probe"
        " WHERE target = 'workspace' ORDER BY probed_at"
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(True, 200), (False, 503)]
    assert all(r[2] is not None and r[2] >= 0 for r in rows)
    assert rows[1][3] == "HTTP 503"
    assert [r.path for r in workspace.received] == ["/healthz", "/healthz"]
    slot = owner.execute(
        "SELECT count(*) FROM ipai_scheduled_run WHERE job_kind = 'uptime_probe'"
        " AND status = 'success'"
    ).fetchone()
    assert slot == (1,)


def test_a_refused_connection_is_a_down_probe(lh: Lakehouse, owner: psycopg.Connection) -> None:
    with http_receiver() as gone:
        url = gone.url("/healthz")  # closed when the block ends
    owner.execute("DELETE FROM ipai_scheduled_run WHERE job_kind = 'uptime_probe'")
    Scheduler(lh, kinds=[UptimeProbes(url, target="gone")]).run_once()

    row = owner.execute(
        "SELECT up, status_code, error FROM ipai_uptime_probe WHERE target = 'gone'"
    ).fetchone()
    assert row is not None
    up, status, error = row
    assert (up, status) == (False, None) and "ConnectError" in error
