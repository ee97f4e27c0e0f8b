"""Tests for `ipai_core.governance.spec_check` (PRD R6.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipai_core.governance.spec_check import REQUIRED_SPEC_FILES, check_spec, has_heading

REPO_SPEC_DIR = Path(__file__).resolve().parents[1] / "spec" / "ipai-databricks"


def _write_valid_spec(spec_dir: Path) -> None:
    spec_dir.mkdir(parents=True, exist_ok=True)
    for name in REQUIRED_SPEC_FILES:
        (spec_dir / name).write_text(f"# {name}\n\nSome content.\n", encoding="utf-8")


def _reasons(failures: list[str], spec_dir: Path) -> list[str]:
    """The failures with the directory path blanked, so words in tmp paths cannot match."""
    return [failure.replace(str(spec_dir), "<spec_dir>") for failure in failures]


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "spec" / "ipai-databricks"
    _write_valid_spec(directory)
    return directory


def test_required_files_are_the_four_spec_kit_documents() -> None:
    assert REQUIRED_SPEC_FILES == ("constitution.md", "prd.md", "plan.md", "tasks.md")


def test_the_repository_spec_passes() -> None:
    assert check_spec(REPO_SPEC_DIR) == []


def test_a_complete_spec_passes(spec_dir: Path) -> None:
    assert check_spec(spec_dir) == []


@pytest.mark.parametrize("name", REQUIRED_SPEC_FILES)
def test_a_missing_file_is_reported_by_name(spec_dir: Path, name: str) -> None:
    (spec_dir / name).unlink()

    failures = _reasons(check_spec(spec_dir), spec_dir)

    assert len(failures) == 1
    assert f"`{name}`" in failures[0]
    assert "missing" in failures[0]


def test_every_missing_file_is_reported(tmp_path: Path) -> None:
    empty_dir = tmp_path / "spec"
    empty_dir.mkdir()

    failures = _reasons(check_spec(empty_dir), empty_dir)

    assert len(failures) == len(REQUIRED_SPEC_FILES)
    for name, failure in zip(REQUIRED_SPEC_FILES, failures, strict=True):
        assert f"`{name}`" in failure
        assert "missing" in failure


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    failures = check_spec(missing)

    assert len(failures) == 1
    assert f"`{missing}`" in failures[0]
    assert "does not exist" in _reasons(failures, missing)[0]


@pytest.mark.parametrize("content", ["", "   ", "\n\n", " \t\n  \n"])
def test_an_empty_or_whitespace_file_is_reported(spec_dir: Path, content: str) -> None:
    (spec_dir / "plan.md").write_text(content, encoding="utf-8")

    failures = _reasons(check_spec(spec_dir), spec_dir)

    assert len(failures) == 1
    assert "`plan.md`" in failures[0]
    assert "empty" in failures[0]
    assert "heading" not in failures[0]


def test_a_file_without_a_heading_is_reported(spec_dir: Path) -> None:
    (spec_dir / "tasks.md").write_text("- [ ] do things\n- [ ] more things\n", encoding="utf-8")

    failures = _reasons(check_spec(spec_dir), spec_dir)

    assert len(failures) == 1
    assert "`tasks.md`" in failures[0]
    assert "heading" in failures[0]


def test_a_heading_only_inside_a_code_fence_does_not_count(spec_dir: Path) -> None:
    (spec_dir / "prd.md").write_text("Intro.\n\n```bash\n# a comment\n```\n", encoding="utf-8")

    failures = _reasons(check_spec(spec_dir), spec_dir)

    assert len(failures) == 1
    assert "`prd.md`" in failures[0]
    assert "heading" in failures[0]


def test_a_directory_in_place_of_a_file_is_reported(spec_dir: Path) -> None:
    (spec_dir / "constitution.md").unlink()
    (spec_dir / "constitution.md").mkdir()

    failures = _reasons(check_spec(spec_dir), spec_dir)

    assert len(failures) == 1
    assert "`constitution.md`" in failures[0]
    assert "not a regular file" in failures[0]


def test_an_undecodable_file_is_reported_not_raised(spec_dir: Path) -> None:
    (spec_dir / "prd.md").write_bytes(b"# Title\n\xff\xfe\xfa broken\n")

    failures = _reasons(check_spec(spec_dir), spec_dir)

    assert len(failures) == 1
    assert "`prd.md`" in failures[0]
    assert "UTF-8" in failures[0]


def test_several_problems_are_all_reported(spec_dir: Path) -> None:
    (spec_dir / "constitution.md").unlink()
    (spec_dir / "prd.md").write_text("", encoding="utf-8")
    (spec_dir / "plan.md").write_text("no heading here\n", encoding="utf-8")

    failures = _reasons(check_spec(spec_dir), spec_dir)

    assert len(failures) == 3
    assert "`constitution.md`" in failures[0]
    assert "missing" in failures[0]
    assert "`prd.md`" in failures[1]
    assert "empty" in failures[1]
    assert "`plan.md`" in failures[2]
    assert "heading" in failures[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Title", True),
        ("intro\n\n## Section\n", True),
        ("   ### Indented up to three spaces\n", True),
        ("###### Six levels\n", True),
        ("####### Seven is not a heading\n", False),
        ("#NoSpace\n", False),
        ("#\n", False),
        ("    # four spaces is code\n", False),
        ("~~~\n# in a tilde fence\n~~~\n", False),
        ("````\n```\n# a shorter fence does not close\n````\n", False),
        ("```\n# inside\n```\n# after the fence\n", True),
        ("plain text only\n", False),
    ],
)
def test_has_heading(text: str, expected: bool) -> None:
    assert has_heading(text) is expected
