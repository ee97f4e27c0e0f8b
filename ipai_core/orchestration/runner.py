"""`Orchestrator`: accepts run requests and runs them in this process, a few at a time.

`submit` records the request as the caller (the database decides whether the caller may), takes
the run's advisory lock on a connection of its own — the sign, for anyone polling, that a live
process owns the run — and hands it to a worker, which runs the connector (`run_connector`) or
the transformations (`run_transformations`) and records the outcome. The lock is released, with
its connection, when the worker is done or the process dies.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any

import psycopg

from ipai_core.db.principal import Principal
from ipai_core.errors import IpaiError
from ipai_core.lakehouse import Lakehouse
from ipai_core.orchestration.runs import (
    LOCK_RUN_SQL,
    TRANSFORMATIONS,
    Kind,
    OrchestrationRun,
    Via,
    finish_run,
    get_run,
    mark_running,
    request_run,
)
from ipai_core.sync.engine import run_connector
from ipai_core.transform.runner import run_transformations

log = logging.getLogger(__name__)

LakehouseProvider = Callable[[], Lakehouse]


class Orchestrator:
    """Runs requested connector runs and transformation refreshes in worker threads."""

    def __init__(self, lakehouse: LakehouseProvider, *, workers: int | None = None) -> None:
        self._lakehouse = lakehouse
        self._workers = workers
        self._pool: futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.runner = f"{socket.gethostname()}:{os.getpid()}"

    def submit(
        self,
        principal: Principal,
        kind: Kind,
        target: str,
        *,
        selectors: tuple[str, ...] = (),
        via: Via,
    ) -> OrchestrationRun:
        """Accept a request as `principal` and start it; returns the queued run."""
        lh = self._lakehouse()
        run_id = request_run(lh, principal, kind, target, selectors=selectors, via=via)
        lock = psycopg.connect(lh.db.url, autocommit=True)
        try:
            lock.execute(LOCK_RUN_SQL, [run_id])
            self._executor(lh).submit(self._run, lh, run_id, kind, target, selectors, lock)
        except BaseException:
            lock.close()
            raise
        return get_run(lh, principal, run_id)

    def status(self, principal: Principal, run_id: str) -> OrchestrationRun:
        return get_run(self._lakehouse(), principal, run_id)

    def close(self, *, wait: bool = True) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)

    def _executor(self, lh: Lakehouse) -> futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                workers = self._workers or lh.settings.orchestration_workers
                self._pool = futures.ThreadPoolExecutor(workers, "ipai-orchestration")
            return self._pool

    def _run(
        self,
        lh: Lakehouse,
        run_id: str,
        kind: Kind,
        target: str,
        selectors: tuple[str, ...],
        lock: psycopg.Connection,
    ) -> None:
        with lock:
            try:
                mark_running(lh, run_id, self.runner)
                outcome = _execute(lh, run_id, kind, target, selectors)
                finish_run(lh, run_id, **outcome)
            except Exception as exc:  # recorded on the run; the worker goes on
                log.exception("orchestration run %s (%s %s) crashed", run_id, kind, target)
                finish_run(lh, run_id, error=f"{type(exc).__name__}: {exc}", result={})


def _execute(
    lh: Lakehouse, run_id: str, kind: Kind, target: str, selectors: tuple[str, ...]
) -> dict[str, Any]:
    trigger = f"orchestration:{run_id}"
    if kind == "connector":
        try:
            result = run_connector(lh, target, triggered_by=trigger)
        except IpaiError as exc:  # disabled, busy, invalid config: nothing ran
            return {"error": str(exc), "result": {}}
        streams = {name: stats.as_json() for name, stats in result.streams.items()}
        return {
            "error": result.error,
            "result": {"streams": streams, "duration_s": round(result.duration_s, 3)},
            "connector_run_id": result.run_id,
        }
    refreshed = run_transformations(lh, list(selectors) or None, trigger=trigger)
    failed = [o for o in refreshed.outcomes if o.status != "success"]
    return {
        "error": f"{len(failed)} view(s) did not refresh: {failed[0].error}" if failed else None,
        "result": {
            "target": TRANSFORMATIONS,
            "views": [
                {"view": o.view, "status": o.status, "seconds": round(o.seconds, 3)}
                for o in refreshed.outcomes
            ],
        },
    }
