"""Modules stay small: every tracked Python module, the tests included, has at most 400 lines.

One concern per module; a module that grows past the limit is split by concern (tests too:
each part keeps its tests, names and markers).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def tracked_modules() -> list[Path]:
    """Every Python file git tracks in this checkout (vendored and generated files are not)."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--", "*.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def too_long(paths: Iterable[Path]) -> dict[str, int]:
    """The paths with more than MAX_LINES lines, with their line counts."""
    counts = {str(path): len(path.read_text(encoding="utf-8").splitlines()) for path in paths}
    return {path: lines for path, lines in counts.items() if lines > MAX_LINES}


def test_every_module_has_at_most_400_lines() -> None:
    modules = tracked_modules()
    tops = {path.relative_to(ROOT).parts[0] for path in modules}
    assert tops >= {"broker", "device", "fleet_api", "simulator", "tests"}, tops
    assert too_long(modules) == {}, "split these by concern"


def test_the_check_can_fail(tmp_path: Path) -> None:
    at_limit = tmp_path / "at_limit.py"
    at_limit.write_text("x = 1\n" * MAX_LINES)
    over = tmp_path / "over.py"
    over.write_text("x = 1\n" * MAX_LINES + "y = 2")  # the last line without a newline counts
    assert too_long([at_limit, over]) == {str(over): MAX_LINES + 1}
