"""The wheel carries every data file the packages need at run time.

A deployed fleet installs a wheel (ansible/roles/exhibit_fleet_wheel), not the source tree,
so a data file that ``[tool.setuptools.package-data]`` does not name is there in every test
run from the checkout and missing on the server (the places data was, once: every
``POST /schools`` was refused there). setuptools expands each pattern with a recursive glob
relative to its package folder; so does this test.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("broker", "device", "fleet_api", "simulator")


def test_package_data_names_every_tracked_data_file() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    shipped = {
        path.relative_to(REPO).as_posix()
        for package, globs in patterns.items()
        for pattern in globs
        for path in (REPO / package).glob(pattern)
        if path.is_file()
    }
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--", *PACKAGES],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    data = [path for path in tracked if not path.endswith(".py")]
    assert len(data) > 10, f"git ls-files found only {data}: the check would prove nothing"
    missing = [path for path in data if path not in shipped]
    assert missing == [], f"add these to [tool.setuptools.package-data]: {missing}"
