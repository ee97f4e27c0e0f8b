"""Files only their owner may read (generated secrets, keys), created exactly once.

`create_once` writes the content to a temporary file next to the target, then hard-links it into
place: the link either appears complete or not at all, so a concurrent reader never sees a
half-written file, and of two processes racing to create it exactly one wins.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_once(path: Path, content: str) -> bool:
    """Create `path` (mode 0600) holding `content` unless it exists; True if this call made it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp files are 0600
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
