"""Tests for `ipai_core.db.embedded`: each test runs its own embedded PostgreSQL on a tmp data dir
(never the session server), so start, crash, recovery and stop can be exercised for real."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg
import pytest

from ipai_core.db import embedded
from ipai_core.db.embedded import START_ATTEMPTS, EmbeddedServer, ServerStatus
from ipai_core.errors import EmbeddedServerError


def _unused_port() -> int:
    """A port nothing listens on right now, so each test prefers its own port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serves(cmdline: Sequence[str], pgdata: Path) -> bool:
    """True when a postgres command line has `-D <pgdata>` (exactly, not a longer path)."""
    args = list(cmdline)
    return "-D" in args[:-1] and args[args.index("-D") + 1] == str(pgdata)


def _server_processes(pgdata: Path) -> list[psutil.Process]:
    """Every postgres process serving `pgdata`: the postmaster (by its `-D` argument) and its
    backends (by their working directory, which PostgreSQL sets to the data dir)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        info = proc.info
        if info["name"] != "postgres":
            continue
        if info["cwd"] == str(pgdata) or _serves(info["cmdline"] or (), pgdata):
            found.append(proc)
    return found


def _postmasters(pgdata: Path) -> list[psutil.Process]:
    """Live postmasters of `pgdata` (backends rewrite their command line; it keeps `-D`)."""
    live = []
    for proc in _server_processes(pgdata):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and _serves(proc.cmdline(), pgdata):
                live.append(proc)
        except psutil.NoSuchProcess:
            continue
    return live


def _shut_down(server: EmbeddedServer) -> None:
    """Stop cleanly; if that fails (or a test left a half-dead server), kill what is left."""
    with contextlib.suppress(EmbeddedServerError, subprocess.TimeoutExpired):
        server.stop()
    for proc in _server_processes(server.pgdata):
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """An embedded server of this test only; stopped (or killed) whatever the test did."""
    own = EmbeddedServer(tmp_path / "postgres", preferred_port=_unused_port())
    yield own
    _shut_down(own)


def _scalar(status: ServerStatus, statement: str) -> object:
    with psycopg.connect(status.url(), autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(statement).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def _wait_until_not_running(server: EmbeddedServer, timeout_s: float = 10.0) -> ServerStatus:
    deadline = time.monotonic() + timeout_s
    status = server.status()
    while status.running and time.monotonic() < deadline:
        time.sleep(0.05)
        status = server.status()
    return status


def test_start_initialises_and_runs_postgres_18(server: EmbeddedServer) -> None:
    assert not server.status().initialized

    status = server.start()

    assert status.initialized and status.running
    assert status.pid is not None and psutil.pid_exists(status.pid)
    assert status.port is not None
    assert server.status() == status
    assert "PostgreSQL 18" in str(_scalar(status, "SELECT version()"))


def test_vector_extension_and_logical_wal(server: EmbeddedServer) -> None:
    status = server.start()

    with psycopg.connect(status.url(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
        distance = conn.execute("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector").fetchone()
        wal_level = conn.execute("SHOW wal_level").fetchone()

    assert distance == (1.0,)
    assert wal_level == ("logical",)


def test_start_twice_is_idempotent(server: EmbeddedServer) -> None:
    first = server.start()

    second = server.start()

    assert second.pid == first.pid
    assert second.port == first.port
    assert len(_postmasters(server.pgdata)) == 1


def test_start_recovers_after_the_postmaster_is_killed(server: EmbeddedServer) -> None:
    before = server.start()
    with psycopg.connect(before.url()) as conn:
        conn.execute("CREATE TABLE survivor (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO survivor VALUES (1, 'committed before the crash')")
        conn.commit()
    assert before.pid is not None

    os.kill(before.pid, signal.SIGKILL)

    crashed = _wait_until_not_running(server)
    assert not crashed.running and crashed.pid is None
    assert (server.pgdata / "postmaster.pid").exists()  # stale: left behind by the crash
    after = server.start()
    assert after.running
    assert after.pid != before.pid
    assert _scalar(after, "SELECT note FROM survivor WHERE id = 1") == "committed before the crash"


def test_a_busy_preferred_port_moves_to_another(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = int(squatter.getsockname()[1])
        own = EmbeddedServer(tmp_path / "postgres", preferred_port=busy)
        try:
            status = own.start()

            assert status.port is not None and status.port != busy
            assert f":{status.port}/" in status.url()
            assert own.status().url() == status.url()
            assert _scalar(own.status(), "SELECT current_setting('port')::int") == status.port
        finally:
            _shut_down(own)


def test_stop_leaves_it_stopped_and_a_second_stop_is_a_no_op(server: EmbeddedServer) -> None:
    started = server.start()

    stopped = server.stop()

    assert not stopped.running and stopped.pid is None and stopped.initialized
    assert not (server.pgdata / "postmaster.pid").exists()
    assert started.pid is not None
    assert not _postmasters(server.pgdata)
    with pytest.raises(EmbeddedServerError):
        stopped.url()
    again = server.stop()
    assert again == stopped


def test_two_threads_starting_at_once_get_one_server(server: EmbeddedServer) -> None:
    barrier = threading.Barrier(2)

    def start() -> ServerStatus:
        barrier.wait(timeout=10)
        return server.start()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = (f.result(timeout=120) for f in [pool.submit(start), pool.submit(start)])

    assert first.running and second.running
    assert first.pid == second.pid
    assert first.port == second.port
    assert [p.pid for p in _postmasters(server.pgdata)] == [first.pid]


# -- the port race ------------------------------------------------------------------------------


@contextlib.contextmanager
def _listening_socket() -> Iterator[int]:
    """A port another process holds (what a racing server would do after our probe)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        yield int(squatter.getsockname()[1])


def test_a_port_taken_between_probe_and_bind_moves_to_the_next(
    server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_probe = embedded._free_port
    probed: list[int] = []
    with _listening_socket() as taken:

        def racy_probe(preferred: int) -> int:  # the first probe loses the race for `taken`
            probed.append(preferred)
            return taken if len(probed) == 1 else real_probe(preferred)

        monkeypatch.setattr(embedded, "_free_port", racy_probe)
        status = server.start()

        assert status.running and status.port is not None and status.port != taken
        assert probed == [server.preferred_port, taken + 1]
        assert _scalar(status, "SELECT current_setting('port')::int") == status.port


def test_the_port_race_gives_up_after_five_attempts(
    server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    probed: list[int] = []
    with _listening_socket() as taken:

        def always_taken(preferred: int) -> int:
            probed.append(preferred)
            return taken

        monkeypatch.setattr(embedded, "_free_port", always_taken)
        with pytest.raises(EmbeddedServerError):
            server.start()

    assert len(probed) == START_ATTEMPTS
    assert not server.status().running


def test_a_start_failure_other_than_the_port_is_not_retried(
    server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.start()
    server.stop()
    with (server.pgdata / "postgresql.conf").open("a") as conf:
        conf.write("no_such_setting = 1\n")
    real_probe = embedded._free_port
    probed: list[int] = []

    def counting_probe(preferred: int) -> int:
        probed.append(preferred)
        return real_probe(preferred)

    monkeypatch.setattr(embedded, "_free_port", counting_probe)
    with pytest.raises(EmbeddedServerError):
        server.start()

    assert len(probed) == 1


# -- which postmaster is ours -------------------------------------------------------------------


def test_a_server_whose_path_starts_like_ours_is_not_ours(tmp_path: Path) -> None:
    ours = EmbeddedServer(tmp_path / "x", preferred_port=_unused_port())
    other = EmbeddedServer(tmp_path / "x" / "pgdata2", preferred_port=_unused_port())
    try:
        running = other.start()
        ours.pgdata.mkdir(parents=True)
        # A stale pid file whose pid now belongs to the postmaster of `.../x/pgdata2/pgdata`.
        shutil.copy(other.pgdata / "postmaster.pid", ours.pgdata / "postmaster.pid")

        status = ours.status()

        assert str(other.pgdata).startswith(str(ours.pgdata))  # what a substring match confused
        assert not status.running and status.pid is None
        assert other.status() == running
    finally:
        _shut_down(other)
        _shut_down(ours)


def test_a_relative_or_home_data_dir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    relative = EmbeddedServer(Path("rel") / "postgres")
    home = EmbeddedServer(Path("~") / "postgres")

    assert relative.pgdata == tmp_path.resolve() / "rel" / "postgres" / "pgdata"
    assert home.data_dir == (tmp_path / "home" / "postgres").resolve()


# -- superuser authentication -------------------------------------------------------------------


def test_the_superuser_needs_the_generated_password(server: EmbeddedServer) -> None:
    status = server.start()
    password_file = server.data_dir / "superuser.password"
    password = password_file.read_text().strip()

    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert len(password) >= 32
    assert f"postgres:{quote(password, safe='')}@" in status.url()
    assert _scalar(status, "SELECT current_user") == "postgres"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{status.port}/postgres", connect_timeout=5
        )
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            f"postgresql://postgres:wrong@127.0.0.1:{status.port}/postgres", connect_timeout=5
        )
    hba_methods = {
        line.split()[-1]
        for line in (server.pgdata / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert hba_methods == {"scram-sha-256"}
    # The password file initdb read is gone; only the 0600 superuser.password holds the password.
    assert sorted(p.name for p in server.data_dir.iterdir()) == [
        ".server.lock",
        "pgdata",
        "server.log",
        "superuser.password",
    ]


def test_a_data_dir_initialised_with_trust_keeps_working(server: EmbeddedServer) -> None:
    server.start()
    server.stop()
    (server.data_dir / "superuser.password").unlink()
    (server.pgdata / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")

    status = server.start()

    assert status.url() == f"postgresql://postgres@127.0.0.1:{status.port}/postgres"
    assert _scalar(status, "SELECT current_user") == "postgres"
