"""The dependency rules of docs/architecture.md, checked on the source (import-linter checks
the package-level rules too; this adds the one-module-per-library rules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules_importing(package: str, library: str) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / package).rglob("*.py")
        if library in imported_top_levels(path)
    )


@pytest.mark.parametrize(
    ("package", "library", "allowed"),
    [
        (
            "device",
            "gpiozero",
            ["device/gpio/inputs.py", "device/gpio/mock.py", "device/gpio/outputs.py"],
        ),
        ("device", "paho", ["device/link/mqtt.py"]),
        ("fleet_api", "paho", ["fleet_api/mqtt_source.py"]),
        ("simulator", "paho", ["simulator/mqtt_tap.py"]),
        ("broker", "paho", ["broker/control.py"]),
        ("broker", "gpiozero", []),
        ("fleet_api", "gpiozero", []),
    ],
)
def test_one_module_per_library(package: str, library: str, allowed: list[str]) -> None:
    assert modules_importing(package, library) == allowed


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("broker", {"device", "fleet_api", "simulator"}),
        ("device", {"fleet_api", "simulator"}),
        ("fleet_api", {"device", "simulator"}),
        ("simulator", {"fleet_api"}),
    ],
)
def test_package_dependency_direction(package: str, forbidden: set[str]) -> None:
    offenders = {
        str(path.relative_to(ROOT)): imported_top_levels(path) & forbidden
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import fleet_api.main\nfrom device import agent\n")
    assert imported_top_levels(bad) == {"fleet_api", "device"}
