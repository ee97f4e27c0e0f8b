"""The whole workspace served by uvicorn in a child process, as `ipai workspace` serves it, for
tests that talk to it over real HTTP (httpx, a browser, an MCP client)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from ipai_core.settings import PROJECT_ROOT, Settings

STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15


class WorkspaceFailed(AssertionError):
    """The served workspace exited, never became healthy, or printed a traceback."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served_workspace(settings: Settings, home: Path, **env: str) -> Iterator[str]:
    """Serve the workspace on the database `settings` name; yields its base URL.

    `home` becomes the child's HOME and working directory (Streamlit looks for ~/.streamlit);
    `env` adds variables. On exit the server is stopped, and a traceback in its output fails
    the test."""
    assert settings.database_url is not None and settings.jwt_secret is not None
    child_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
        ),
        "IPAI_DATABASE_URL": settings.database_url.get_secret_value(),
        "IPAI_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "IPAI_DATA_DIR": str(settings.data_dir),
        "HOME": str(home),
        **env,
    }
    code = "from ipai_core.settings import get_settings\n"
    code += "from ipai_core.workspace.server import serve\nserve(get_settings())\n"
    with served_process([sys.executable, "-c", code], child_env, home) as base:
        yield base


@contextmanager
def served_process(command: Sequence[str], env: Mapping[str, str], cwd: Path) -> Iterator[str]:
    """Run a serving command (the workspace, `ipai apps run …`) on a free port of 127.0.0.1
    until its /healthz answers; yields its base URL. On exit the server is stopped, and a
    traceback in its output fails the test."""
    port = free_port()
    server = subprocess.Popen(
        list(command),
        env={**env, "IPAI_WORKSPACE_HOST": "127.0.0.1", "IPAI_WORKSPACE_PORT": str(port)},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base, server)
        yield base
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
            raise WorkspaceFailed(
                f"the server did not stop within {STOP_TIMEOUT_S} s of SIGTERM"
            ) from None
    if b"Traceback" in output:
        raise WorkspaceFailed(output.decode(errors="replace"))


def _wait_until_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(base_url=base, timeout=5) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                output = server.stdout.read().decode(errors="replace") if server.stdout else ""
                raise WorkspaceFailed(f"workspace exited with {server.returncode}:\n{output}")
            try:
                if http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise WorkspaceFailed(f"workspace did not answer /healthz within {STARTUP_TIMEOUT_S} s")
