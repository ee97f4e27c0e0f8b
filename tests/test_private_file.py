"""Generated secrets are created once, atomically, even by racing threads."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from ipai_core.private_file import create_once


def test_racing_creators_agree_on_one_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "key"
    contents = [f"secret-{n}-" + "x" * 10_000 for n in range(16)]
    winners: list[bool] = []
    seen: list[str] = []
    barrier = threading.Barrier(len(contents))

    def create(content: str) -> None:
        barrier.wait()
        winners.append(create_once(target, content))
        seen.append(target.read_text())

    threads = [threading.Thread(target=create, args=(c,)) for c in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert winners.count(True) == 1
    assert len(set(seen)) == 1 and seen[0] in contents, "nobody read a half-written file"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key"], "no temporary file is left behind"
