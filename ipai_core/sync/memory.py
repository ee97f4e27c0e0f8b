"""Which allocator Arrow uses while a sync runs.

pyarrow's default pool, mimalloc, keeps the freed pages of every thread's heap: loading a million
CSV or Parquet rows in 10k-row batches, which never holds more than ~10 MiB of Arrow data at once,
peaks 15 to 30 MiB higher in resident memory than with jemalloc (or, in a pyarrow built without
it, the system allocator), which hands them back. Measured on the ingest benchmark's data.

Only the pool that pyarrow's Python calls allocate from is switched, once per process, and only
when nobody chose one with `ARROW_DEFAULT_MEMORY_POOL`.
"""

from __future__ import annotations

import os

import pyarrow as pa

_ENV = "ARROW_DEFAULT_MEMORY_POOL"
_LEAN = ("jemalloc", "system")  # in order of preference


def use_lean_arrow_pool() -> None:
    """Make jemalloc (else the system allocator) Arrow's default pool, unless one was chosen."""
    if os.environ.get(_ENV) or pa.default_memory_pool().backend_name in _LEAN:
        return
    backend = next(b for b in _LEAN if b in pa.supported_memory_backends())
    pool = pa.jemalloc_memory_pool() if backend == "jemalloc" else pa.system_memory_pool()
    pa.set_memory_pool(pool)
