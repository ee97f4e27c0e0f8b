"""The scheduler: pure planning (cron slots, catch-up), and against a real database — one run per
due slot however many schedulers race for it, retries with backoff, stale claims, heartbeats,
other job kinds, and shutdown on SIGTERM.

Time is a seam: most tests drive `Scheduler(clock=...)` instead of sleeping. The module has its
own migrated database, so no other test's scheduled connectors can be picked up here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import MIGRATIONS, make_settings

import tests.support.memory_connector  # noqa: F401  registers `test_memory`
from ipai_core import Lakehouse, Principal
from ipai_core.auth import users
from ipai_core.connectors import store
from ipai_core.errors import AccessDenied, ConfigError
from ipai_core.migrate.runner import migrate
from ipai_core.scheduler import (
    ClaimedJob,
    ConnectorRuns,
    JobOutcome,
    PlannedRun,
    RetryPolicy,
    Schedulable,
    Scheduler,
    SchedulerIdentity,
    SchedulerOptions,
    live_schedulers,
    plan_runs,
    queue,
)
from ipai_core.scheduler.plan import latest_slot
from ipai_core.scheduler.queue import CONNECTOR_RUN
from ipai_core.sync.engine import run_lock
from ipai_core.vault import open_vault

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2031, 3, 4, 10, 5, tzinfo=UTC)  # slot 10:00 of an hourly schedule is due
HOURLY = "0 * * * *"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the plan: pure -----------------------------------------------------------------------------


def _target(schedule: str | None = HOURLY, **changes: Any) -> Schedulable:
    fields: dict[str, Any] = {
        "kind": CONNECTOR_RUN,
        "key": "c1",
        "schedule": schedule,
        "enabled": True,
        "since": at("2031-03-01 00:00"),
        "label": "orders",
        **changes,
    }
    return Schedulable(**fields)


def test_the_latest_slot_includes_now() -> None:
    assert latest_slot(HOURLY, at("2031-03-04 10:00:00")) == at("2031-03-04 10:00")
    assert latest_slot(HOURLY, at("2031-03-04 10:59:59.9")) == at("2031-03-04 10:00")
    assert latest_slot("*/15 * * * *", at("2031-03-04 10:44:59")) == at("2031-03-04 10:30")


def test_a_due_slot_is_planned_once() -> None:
    plan = plan_runs([_target()], {}, T0)
    assert plan.runs == (PlannedRun(CONNECTOR_RUN, "c1", at("2031-03-04 10:00"), "orders"),)
    already = {(CONNECTOR_RUN, "c1"): at("2031-03-04 10:00")}
    assert plan_runs([_target()], already, T0 + timedelta(minutes=50)).runs == ()


def test_after_an_outage_only_the_latest_missed_slot_is_planned() -> None:
    last = {(CONNECTOR_RUN, "c1"): at("2031-03-01 10:00")}
    plan = plan_runs([_target()], last, at("2031-03-03 13:20"))
    assert [r.due_at for r in plan.runs] == [at("2031-03-03 13:00")]


def test_a_new_job_first_runs_at_its_first_slot_after_creation() -> None:
    daily = _target("0 2 * * *", since=at("2031-03-04 15:00"))
    assert plan_runs([daily], {}, at("2031-03-04 23:00")).runs == ()
    assert [r.due_at for r in plan_runs([daily], {}, at("2031-03-05 02:00:03")).runs] == [
        at("2031-03-05 02:00")
    ]


def test_disabled_and_unscheduled_jobs_are_never_due() -> None:
    plan = plan_runs(
        [_target(key="off", enabled=False), _target(None, key="manual"), _target(key="on")],
        {},
        T0,
    )
    assert [r.key for r in plan.runs] == ["on"]
    assert plan.active == frozenset({(CONNECTOR_RUN, "on")})


def test_a_bad_schedule_is_reported_and_the_others_still_planned() -> None:
    plan = plan_runs([_target("every hour", key="bad"), _target(key="good")], {}, T0)
    assert [r.key for r in plan.runs] == ["good"]
    assert [t.key for t, _ in plan.invalid] == ["bad"]


def test_planned_runs_come_in_one_order_for_every_scheduler() -> None:
    targets = [_target(key=k) for k in ("c3", "c1", "c2")]
    assert [r.key for r in plan_runs(targets, {}, T0).runs] == ["c1", "c2", "c3"]


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC"):
        plan_runs([_target()], {}, datetime(2031, 3, 4, 10, 5))


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    policy = RetryPolicy(
        max_attempts=5, base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=2)
    )
    assert [policy.delay(n, 1.0) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=120),
    ]
    assert policy.delay(2, 0.0) == timedelta(seconds=30), "jitter keeps at least half"
    with pytest.raises(ConfigError):
        RetryPolicy(max_attempts=0)


# --- against the database -------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def sched_url(new_database: Callable[[], str]) -> str:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
    return url


@pytest.fixture(scope="module")
def lh(sched_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakehouse]:
    with Lakehouse.open(make_settings(sched_url, tmp_path_factory.mktemp("sched"))) as lakehouse:
        # Create the local vault key before runs go parallel: its first creation races with
        # concurrent readers (they can read the file empty), a vault issue outside this module.
        open_vault(lakehouse)
        yield lakehouse


@pytest.fixture
def owner(sched_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(sched_url, autocommit=True) as conn:
        yield conn


Connectors = Callable[..., str]


@pytest.fixture
def connectors(
    lh: Lakehouse, owner: psycopg.Connection, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Connectors]:
    """`connectors(schedule, broken=False, **options)` → id of a new scheduled test_memory
    connector; every one is removed (with its queue rows and runs) after the test."""
    made: list[str] = []

    def make(schedule: str = HOURLY, *, broken: bool = False, **options: Any) -> str:
        name = f"sch_{request.node.name[5:25]}_{len(made)}".lower()
        data = tmp_path / f"{name}.json"
        stream = {
            "columns": {"id": "int", "amount": "float"},
            "primary_key": ["id"],
            "rows": [{"id": i, "amount": i * 1.5} for i in range(1, 4)],
        }
        data.write_text(json.dumps({"streams": {"t": stream}}))
        config = {
            "target_schema": "ipai_bronze_core",
            "table_prefix": f"{name}_",
            "data_file": str(tmp_path / "missing.json") if broken else str(data),
            **options,
        }
        with lh.session(Principal.service("test: add scheduled connector")) as s:
            record = store.add_connector(
                s, name=name, connector_type="test_memory", config=config, schedule=schedule
            )
        made.append(record.id)
        return record.id

    yield make
    owner.execute("DELETE FROM ipai_connector_config WHERE id = ANY(%s::uuid[])", [made])


@pytest.fixture
def schedulers(lh: Lakehouse) -> Iterator[Callable[..., Scheduler]]:
    """`schedulers(clock, **options)` → a Scheduler, closed after the test."""
    made: list[Scheduler] = []

    def make(clock: Clock | None, **options: Any) -> Scheduler:
        scheduler = Scheduler(
            lh, options=SchedulerOptions(**options), clock=clock, jitter=lambda: 1.0
        )
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close()


def _rows(owner: psycopg.Connection, connector_id: str) -> list[dict[str, Any]]:
    cur = owner.execute(
        "SELECT id::text, due_at, status, attempt, next_attempt_at, claimed_by, run_id::text,"
        " error, finished_at FROM ipai_scheduled_run WHERE connector_id = %s ORDER BY due_at",
        [connector_id],
    )
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _runs(owner: psycopg.Connection, connector_id: str) -> list[tuple[str, str, str]]:
    return owner.execute(
        "SELECT id::text, status, triggered_by FROM ipai_connector_run WHERE connector_id = %s"
        " ORDER BY started_at",
        [connector_id],
    ).fetchall()


def test_a_due_connector_runs_once_and_the_slot_records_its_run(
    connectors: Connectors, schedulers: Callable[..., Scheduler], owner: psycopg.Connection
) -> None:
    connector = connectors()
    clock = Clock(T0)
    scheduler = schedulers(clock)
    report = scheduler.tick()
    assert [r.due_at for r in report.enqueued] == [at("2031-03-04 10:00")]
    assert [(f.outcome.status, f.row_status) for f in scheduler.drain()] == [("success", "success")]
    clock.advance(minutes=30)
    assert scheduler.tick().enqueued == (), "a slot is enqueued once"
    (row,) = _rows(owner, connector)
    (run,) = _runs(owner, connector)
    assert (row["status"], row["attempt"], row["run_id"]) == ("success", 1, run[0])
    assert row["claimed_by"] == scheduler.identity.scheduler_id
    assert run[1:] == ("success", "scheduler")


@pytest.mark.slow
def test_two_schedulers_and_another_process_racing_for_a_due_run_run_it_once(
    lh: Lakehouse,
    connectors: Connectors,
    schedulers: Callable[..., Scheduler],
    owner: psycopg.Connection,
    tmp_path: Path,
) -> None:
    connector = connectors("0 0 * * *")  # daily at midnight UTC: one slot for all three
    owner.execute(
        "UPDATE ipai_connector_config SET created_at = created_at - interval '3 days'"
        " WHERE id = %s",
        [connector],
    )
    now = _database_now(owner)
    to_midnight = (now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)) - now
    if to_midnight < timedelta(minutes=2):  # keep the three on one side of the slot boundary
        time.sleep(to_midnight.total_seconds() + 1)
        now = _database_now(owner)
    ready, go = tmp_path / "ready", tmp_path / "go"
    process = _python(
        lh,
        "import tests.support.memory_connector\n"
        "from ipai_core import Lakehouse, Principal\n"
        "from ipai_core.scheduler import Scheduler\n"
        "lh = Lakehouse.open()\n"
        "with lh.session(Principal.service('test: warm the pool')): pass\n"
        "scheduler = Scheduler(lh)  # the database's clock, as in production\n"
        f"pathlib.Path({str(ready)!r}).write_text('ready')\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.001)\n"
        "report = scheduler.run_once()\n"
        "print('process finished', [f.outcome.status for f in report.finished])\n",
    )
    try:
        _wait_until(ready.exists, process)
        racers = [schedulers(Clock(now)) for _ in range(2)]
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def race(scheduler: Scheduler) -> None:
            start.wait()
            try:
                scheduler.tick()
                scheduler.drain()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=race, args=(r,)) for r in racers]
        for thread in threads:
            thread.start()
        go.write_text("go")
        start.wait()
        for thread in threads:
            thread.join(60)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not errors, errors
    (row,) = _rows(owner, connector)
    runs = _runs(owner, connector)
    assert len(runs) == 1, "exactly one connector run for the slot"
    assert (row["status"], row["attempt"], row["run_id"]) == ("success", 1, runs[0][0])
    process_beat = owner.execute(
        "SELECT scheduler_id FROM ipai_scheduler_heartbeat WHERE pid = %s", [process.pid]
    ).fetchone()
    assert process_beat is not None, "the other process did take part"
    contenders = {r.identity.scheduler_id for r in racers} | {process_beat[0]}
    assert row["claimed_by"] in contenders
    print("race won by", "process" if row["claimed_by"] == process_beat[0] else "a thread")


@pytest.mark.slow
def test_many_schedulers_and_many_due_connectors_run_each_slot_exactly_once(
    connectors: Connectors, schedulers: Callable[..., Scheduler], owner: psycopg.Connection
) -> None:
    made = [connectors() for _ in range(12)]
    clock = Clock(T0)
    racers = [schedulers(clock, workers=2) for _ in range(5)]
    start = threading.Barrier(len(racers))
    errors: list[BaseException] = []

    def work(scheduler: Scheduler) -> None:
        start.wait()
        try:
            for _ in range(8):  # several passes each, as workers free up
                scheduler.tick()
                scheduler.drain()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    for connector in made:
        rows = _rows(owner, connector)
        assert [(r["status"], r["attempt"]) for r in rows] == [("success", 1)], rows[0]["error"]
        assert len(_runs(owner, connector)) == 1
    winners = owner.execute(
        "SELECT count(DISTINCT claimed_by) FROM ipai_scheduled_run WHERE connector_id = ANY(%s)",
        [made],
    ).fetchone()
    assert winners is not None and winners[0] > 1, "the work was shared"


def test_a_failing_connector_is_retried_with_backoff_then_failed_and_does_not_block_others(
    connectors: Connectors, schedulers: Callable[..., Scheduler], owner: psycopg.Connection
) -> None:
    good, bad = connectors(), connectors(broken=True)
    clock = Clock(T0)
    scheduler = schedulers(
        clock,
        workers=2,
        retry=RetryPolicy(
            max_attempts=3, base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=15)
        ),
    )
    scheduler.tick()
    scheduler.drain()
    assert [r["status"] for r in _rows(owner, good)] == ["success"]
    (row,) = _rows(owner, bad)
    assert (row["status"], row["attempt"]) == ("queued", 1)
    assert row["next_attempt_at"] == T0 + timedelta(seconds=30)
    assert "FileNotFoundError" in row["error"] and row["run_id"] is not None

    clock.advance(seconds=29)
    assert scheduler.tick().claimed == (), "not before its backoff"
    clock.advance(seconds=1)
    assert len(scheduler.tick().claimed) == 1
    scheduler.drain()
    (row,) = _rows(owner, bad)
    assert (row["status"], row["attempt"]) == ("queued", 2)
    assert row["next_attempt_at"] == clock.now + timedelta(seconds=60), "the delay doubles"

    clock.advance(seconds=60)
    scheduler.tick()
    scheduler.drain()
    (row,) = _rows(owner, bad)
    assert (row["status"], row["attempt"]) == ("failed", 3)
    assert row["finished_at"] == clock.now
    assert [r[1] for r in _runs(owner, bad)] == ["failed"] * 3
    assert [r[1] for r in _runs(owner, good)] == ["success"]


def test_a_newer_slot_supersedes_a_queued_retry(
    connectors: Connectors, schedulers: Callable[..., Scheduler], owner: psycopg.Connection
) -> None:
    bad = connectors(broken=True)
    clock = Clock(T0)
    scheduler = schedulers(clock)
    scheduler.tick()
    scheduler.drain()
    clock.now = at("2031-03-04 11:00:10")
    scheduler.tick()
    scheduler.drain()
    older, newer = _rows(owner, bad)
    assert older["status"] == "skipped" and "superseded" in older["error"]
    assert (newer["due_at"], newer["attempt"]) == (at("2031-03-04 11:00"), 1)


def test_a_disabled_connector_has_its_queued_slot_skipped(
    lh: Lakehouse,
    connectors: Connectors,
    schedulers: Callable[..., Scheduler],
    owner: psycopg.Connection,
) -> None:
    bad = connectors(broken=True)
    clock = Clock(T0)
    scheduler = schedulers(clock)
    scheduler.tick()
    scheduler.drain()
    with lh.session(Principal.service("test: disable")) as s:
        store.set_enabled(s, bad, False)
    clock.advance(minutes=5)
    assert scheduler.tick().claimed == ()
    (row,) = _rows(owner, bad)
    assert row["status"] == "skipped" and "no longer scheduled" in row["error"]


def test_a_busy_connector_is_deferred_without_spending_an_attempt(
    lh: Lakehouse,
    connectors: Connectors,
    schedulers: Callable[..., Scheduler],
    owner: psycopg.Connection,
) -> None:
    connector = connectors()
    clock = Clock(T0)
    scheduler = schedulers(clock)
    with run_lock(lh.db.url, store.get_connector(lh, connector)):  # e.g. a manual run
        scheduler.tick()
        assert [f.outcome.status for f in scheduler.drain()] == ["busy"]
    (row,) = _rows(owner, connector)
    assert (row["status"], row["attempt"]) == ("queued", 0)
    assert "already running" in row["error"]
    clock.advance(minutes=1)
    scheduler.tick()
    scheduler.drain()
    (row,) = _rows(owner, connector)
    assert (row["status"], row["attempt"]) == ("success", 1)


def test_a_claim_whose_scheduler_stopped_beating_is_reclaimed_and_run(
    lh: Lakehouse,
    connectors: Connectors,
    schedulers: Callable[..., Scheduler],
    owner: psycopg.Connection,
) -> None:
    connector = connectors()
    dead = SchedulerIdentity.of_this_process(kinds=[CONNECTOR_RUN], workers=1, interval_s=15)
    with lh.session(Principal.service("test: a scheduler that dies after its claim")) as s:
        queue.beat(s, dead, T0)
        slot = PlannedRun(CONNECTOR_RUN, connector, at("2031-03-04 10:00"))
        queue.enqueue(s, slot, max_attempts=3, enqueued_by=dead.scheduler_id, now=T0)
        (claimed,) = queue.claim(
            s, scheduler_id=dead.scheduler_id, kinds=[CONNECTOR_RUN], now=T0, limit=1
        )
    clock = Clock(T0 + timedelta(seconds=59))  # 2 x 15 s + 30 s grace not yet over
    survivor = schedulers(clock, stale_grace=timedelta(seconds=30))
    assert survivor.tick().reclaimed == ()
    clock.advance(seconds=2)
    report = survivor.tick()
    assert [r.id for r in report.reclaimed] == [claimed.id]
    assert [j.id for j in report.claimed] == [claimed.id], "queued again and taken at once"
    survivor.drain()
    (row,) = _rows(owner, connector)
    assert (row["status"], row["attempt"]) == ("success", 2)
    assert row["claimed_by"] == survivor.identity.scheduler_id
    audited = owner.execute(
        "SELECT details ->> 'claimed_by' FROM ipai_audit_log WHERE event_type = 'scheduler'"
        " AND action = 'reclaimed' AND entity_id = %s",
        [claimed.id],
    ).fetchall()
    assert audited == [(dead.scheduler_id,)]

    # The old claimer can no longer touch the row.
    with lh.session(Principal.service("test: late finish")) as s:
        late = queue.complete(
            s, claimed, scheduler_id=dead.scheduler_id, status="success", now=clock.now
        )
    assert late is False


def test_heartbeats_appear_update_and_stop(
    lh: Lakehouse, schedulers: Callable[..., Scheduler], owner: psycopg.Connection
) -> None:
    clock = Clock(T0)
    scheduler = schedulers(clock, interval_s=5)
    me = scheduler.identity.scheduler_id
    scheduler.tick()
    clock.advance(seconds=5)
    scheduler.tick()
    row = owner.execute(
        "SELECT hostname, pid, job_kinds, workers, interval_s, started_at, last_beat_at,"
        " stopped_at, version FROM ipai_scheduler_heartbeat WHERE scheduler_id = %s",
        [me],
    ).fetchone()
    assert row is not None
    assert row[:5] == (scheduler.identity.hostname, os.getpid(), [CONNECTOR_RUN], 2, 5.0)
    assert (row[5], row[6], row[7]) == (T0, T0 + timedelta(seconds=5), None)
    assert row[8]
    with lh.session(Principal.service("test: readiness")) as s:
        assert me in [h.scheduler_id for h in live_schedulers(s, clock.now, timedelta(0))]
        later = clock.now + timedelta(seconds=11)
        assert me not in [h.scheduler_id for h in live_schedulers(s, later, timedelta(0))]
    scheduler.close()
    with lh.session(Principal.service("test: readiness")) as s:
        assert me not in [h.scheduler_id for h in live_schedulers(s, clock.now, timedelta(0))]
    assert owner.execute(
        "SELECT stopped_at FROM ipai_scheduler_heartbeat WHERE scheduler_id = %s", [me]
    ).fetchone() == (clock.now,)


class Probes:
    """Another job kind, as issue 7 will add (uptime probes, alert rules): no scheduler change."""

    name = "test_probe"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.ran: list[ClaimedJob] = []

    def targets(self, s: Any) -> list[Schedulable]:
        return [Schedulable(self.name, "workspace", "*/5 * * * *", True, T0 - timedelta(days=1))]

    def run(self, lh: Lakehouse, job: ClaimedJob) -> JobOutcome:
        self.ran.append(job)
        if self.fail:
            raise RuntimeError("probe exploded")
        return JobOutcome("success")


def test_other_job_kinds_plug_in_and_a_crashing_job_is_retried(
    lh: Lakehouse, owner: psycopg.Connection
) -> None:
    clock = Clock(T0)
    probes, crashing = Probes(), Probes(fail=True)
    owner.execute("DELETE FROM ipai_scheduled_run WHERE job_kind = 'test_probe'")
    try:
        first = Scheduler(lh, kinds=[probes], clock=clock)
        first.tick()
        assert [f.outcome.status for f in first.close().finished] == ["success"]
        assert [j.due_at for j in probes.ran] == [at("2031-03-04 10:05")]
        clock.advance(minutes=5)
        second = Scheduler(lh, kinds=[crashing, ConnectorRuns()], clock=clock)
        second.tick()  # the crash is contained in its worker
        (finished,) = second.close().finished
        assert finished.outcome.status == "failed" and finished.row_status == "queued"
        assert finished.outcome.detail == "RuntimeError: probe exploded"
        statuses = owner.execute(
            "SELECT status, connector_id FROM ipai_scheduled_run WHERE job_kind = 'test_probe'"
            " ORDER BY due_at"
        ).fetchall()
        assert statuses == [("success", None), ("queued", None)]
    finally:
        owner.execute("DELETE FROM ipai_scheduled_run WHERE job_kind = 'test_probe'")


def test_a_kind_given_twice_is_refused(lh: Lakehouse) -> None:
    with pytest.raises(ConfigError):
        Scheduler(lh, kinds=[ConnectorRuns(), ConnectorRuns()])


def test_data_engineers_read_the_queue_and_nobody_else_writes_it(
    lh: Lakehouse, connectors: Connectors, schedulers: Callable[..., Scheduler]
) -> None:
    connector = connectors()
    scheduler = schedulers(Clock(T0))
    scheduler.tick()
    scheduler.drain()

    engineer = _signed_in(lh, ["data_engineer"])
    analyst = _signed_in(lh, ["analyst"])
    sql = "SELECT count(*) AS n FROM ipai_scheduled_run WHERE connector_id = %s"
    assert lh.query(engineer, sql, [connector])["n"][0] == 1
    assert lh.query(analyst, sql, [connector])["n"][0] == 0
    assert lh.query(engineer, "SELECT count(*) AS n FROM ipai_scheduler_heartbeat")["n"][0] >= 1
    with pytest.raises(AccessDenied), lh.session(engineer) as s:
        s.execute("UPDATE ipai_scheduled_run SET error = 'x' WHERE connector_id = %s", [connector])


def _signed_in(lh: Lakehouse, roles: list[str]) -> Principal:
    email = f"{'-'.join(roles)}-{os.urandom(3).hex()}@example.test"
    password = "pw-" + os.urandom(8).hex()
    users.add_user(lh.db, email, password, roles)
    return lh.authenticate(users.sign_in(lh.db, lh.tokens, email, password))


# --- the process: CLI and signals -------------------------------------------------------------


@pytest.mark.slow
def test_ipai_scheduler_once_runs_one_pass_and_exits_non_zero_on_a_failure(
    lh: Lakehouse, connectors: Connectors, owner: psycopg.Connection
) -> None:
    good, bad = connectors(), connectors(broken=True)
    owner.execute(
        "UPDATE ipai_connector_config SET created_at = created_at - interval '1 day'"
        " WHERE id = ANY(%s::uuid[])",
        [[good, bad]],
    )
    process = _python(
        lh,
        "import tests.support.memory_connector, typer\n"
        "from ipai_core.cli.scheduler import scheduler\n"
        "app = typer.Typer()\n"
        "app.command()(scheduler)\n"
        "app(['--once', '--workers', '2', '--interval', '5', '--max-attempts', '2'])\n",
        stdout=subprocess.PIPE,
    )
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 1, out
    assert [(r["status"], r["attempt"]) for r in _rows(owner, good)] == [("success", 1)]
    assert [(r["status"], r["attempt"]) for r in _rows(owner, bad)] == [("queued", 1)]
    assert b": success" in out and b": failed" in out
    beat = _heartbeat(owner, process.pid)
    assert beat is not None and beat[1] is not None, "a --once pass ends as a clean stop"


@pytest.mark.slow
def test_sigterm_stops_the_scheduler_cleanly(lh: Lakehouse, owner: psycopg.Connection) -> None:
    process = _python(
        lh,
        "from ipai_core.cli.scheduler import scheduler\nscheduler(interval=0.3, workers=1)\n",
    )
    try:
        _wait_until(lambda: _heartbeat(owner, process.pid) is not None, process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    beat = _heartbeat(owner, process.pid)
    assert beat is not None and beat[1] is not None, "a clean stop is recorded"


@pytest.mark.slow
def test_a_second_sigterm_hands_a_running_job_back_to_the_queue(
    lh: Lakehouse, connectors: Connectors, owner: psycopg.Connection, tmp_path: Path
) -> None:
    pause = tmp_path / "paused"
    connector = connectors("* * * * *", pause_file=str(pause))
    owner.execute(
        "UPDATE ipai_connector_config SET created_at = created_at - interval '1 hour'"
        " WHERE id = %s",
        [connector],
    )
    process = _python(
        lh,
        "import tests.support.memory_connector\n"
        "from ipai_core.cli.scheduler import scheduler\n"
        "scheduler(interval=0.3, workers=1)\n",
    )
    try:
        _wait_until(pause.exists, process)
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert process.poll() is None, "the first SIGTERM waits for the running job"
        (running,) = [r for r in _rows(owner, connector) if r["status"] == "running"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 3
    finally:
        if process.poll() is None:
            process.kill()
    (released,) = [r for r in _rows(owner, connector) if r["id"] == running["id"]]
    assert (released["status"], released["attempt"]) == ("queued", 0)
    assert "released" in released["error"]


def _heartbeat(owner: psycopg.Connection, pid: int) -> tuple[Any, ...] | None:
    return owner.execute(
        "SELECT last_beat_at, stopped_at FROM ipai_scheduler_heartbeat WHERE pid = %s"
        " ORDER BY started_at DESC LIMIT 1",
        [pid],
    ).fetchone()


def _database_now(owner: psycopg.Connection) -> datetime:
    row = owner.execute("SELECT now()").fetchone()
    assert row is not None
    now: datetime = row[0]
    return now


def _python(lh: Lakehouse, code: str, **popen: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IPAI_DATABASE_URL": lh.owner_url,
        "IPAI_DATA_DIR": str(lh.settings.data_dir),
        "IPAI_JWT_SECRET": lh.settings.jwt_secret.get_secret_value(),  # type: ignore[union-attr]
    }
    return subprocess.Popen(
        [sys.executable, "-c", "import pathlib, time\n" + code], cwd=ROOT, env=env, **popen
    )


def _wait_until(
    condition: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the scheduler process ended early"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
