"""Spec Kit check: the files every feature is described in exist and say something (PRD R6.1).

This module owns the rule behind `ipai spec check`: `spec/ipai-databricks/` holds a constitution,
a PRD, a plan and a task list, each a readable Markdown file with at least one heading line. It only
reports; the CLI turns a non-empty report into `ipai_core.errors.CheckFailed`.
"""

from __future__ import annotations

import re
from pathlib import Path

REQUIRED_SPEC_FILES: tuple[str, ...] = ("constitution.md", "prd.md", "plan.md", "tasks.md")

_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def check_spec(spec_dir: Path) -> list[str]:
    """Check the Spec Kit in `spec_dir`; return one message per problem (empty means it passes)."""
    if not spec_dir.is_dir():
        listing = ", ".join(f"`{name}`" for name in REQUIRED_SPEC_FILES)
        return [f"spec directory `{spec_dir}` does not exist: create it with {listing}."]
    failures: list[str] = []
    for name in REQUIRED_SPEC_FILES:
        problem = _check_file(spec_dir / name)
        if problem is not None:
            failures.append(problem)
    return failures


def _check_file(path: Path) -> str | None:
    """The problem with one spec file, or None when it is fine."""
    where = f"`{path.name}` in `{path.parent}`"
    if not path.exists():
        return f"{where} is missing: write it (the other spec files show the shape)."
    if not path.is_file():
        return f"{where} is not a regular file: replace it with a Markdown file."
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"{where} cannot be read as UTF-8 text ({exc}): fix or rewrite it."
    if not text.strip():
        return f"{where} is empty: write its content."
    if not has_heading(text):
        return f"{where} has no Markdown heading: start it with a title line such as `# Plan`."
    return None


def has_heading(markdown: str) -> bool:
    """True when `markdown` has an ATX heading line (`# Title`) outside fenced code blocks."""
    fence: str | None = None
    for line in markdown.splitlines():
        marker = _FENCE.match(line)
        if fence is None and marker is not None:
            fence = marker.group(1)
        elif fence is not None:
            if marker is not None and _closes(fence, marker.group(1)):
                fence = None
        elif _ATX_HEADING.match(line):
            return True
    return False


def _closes(opening: str, marker: str) -> bool:
    """Whether fence `marker` closes a block opened by `opening`: same character, no shorter."""
    return marker[0] == opening[0] and len(marker) >= len(opening)
