"""Reading scenario files: named or by path, validated, every mistake with its file and line.

``load_scenario(path)`` reads ``simulator/scenarios/*.yaml`` (or any file), validates it
with the models of :mod:`simulator.scenario` and the cross-checks of
:mod:`simulator.scenario_checks`, and turns every mistake into a :class:`ScenarioError`
that names the file, the line and the field, e.g.
``normal-week.yaml:31: visits[2].hours: use HH:MM-HH:MM, e.g. 08:00-15:00 (got '8-15')``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simulator.controller_checks import problems as controller_problems
from simulator.errors import ScenarioError
from simulator.scenario import Scenario
from simulator.scenario_checks import problems
from simulator.scenario_faults import FAULT_KINDS
from simulator.scenario_types import zone
from simulator.yaml_lines import line_of

SCENARIO_DIR = Path(__file__).parent / "scenarios"


def scenario_path(name_or_path: str | Path) -> Path:
    """A path as given, or the named scenario shipped in ``simulator/scenarios``."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return SCENARIO_DIR / f"{name_or_path}.yaml"


def named_scenarios() -> list[str]:
    """Names of the scenarios shipped with the simulator."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and validate a scenario; ScenarioError names the file, line and field."""
    path = scenario_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        known = ", ".join(named_scenarios())
        raise ScenarioError(f"{path}: cannot read it ({exc.strerror}); named: {known}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        raw = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ScenarioError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping (name, start, end, exhibits, ...)")
    found: list[tuple[tuple[Any, ...], str]]
    try:
        scenario = Scenario.model_validate(raw, context={"timezone": _zone_of(raw)})
    except ValidationError as exc:
        found = [
            (
                tuple(p for p in error["loc"] if not _is_union_tag(p)),
                error["msg"].removeprefix("Value error, "),
            )
            for error in exc.errors()
        ]
    else:
        found = [*problems(scenario), *controller_problems(scenario)]
    if found:
        lines = [f"{path}:{line_of(node, loc)}: {_dotted(loc)}: {msg}" for loc, msg in found[:5]]
        more = len(found) - len(lines)
        raise ScenarioError("\n".join(lines) + (f"\n(and {more} more)" if more > 0 else ""))
    return scenario


def _zone_of(raw: dict[Any, Any]) -> str:
    # Times without an offset are read in the scenario's zone; a bad name is reported by
    # the model's own check of `timezone`, and meanwhile times are read as UTC.
    name = raw.get("timezone", "UTC")
    try:
        zone(name)
    except ValueError:
        return "UTC"
    return str(name)


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the discriminator's value ('partition') into the loc of union members.
    return isinstance(part, str) and part in FAULT_KINDS


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "scenario"
