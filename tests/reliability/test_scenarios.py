"""Every named scenario on SQLite and PostgreSQL: nothing lost, nothing counted twice, every
interaction in its true visit, and every fault's own check passing."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.databases import Backend
from simulator.engine import run_scenario
from simulator.reliability import ScenarioReport
from simulator.scenario_files import load_scenario, named_scenarios


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", named_scenarios())
def test_scenario_counts_every_interaction_once_in_its_visit(
    name: str, backend: Backend, tmp_path: Path, reports: list[ScenarioReport]
) -> None:
    scenario = load_scenario(name)
    report = run_scenario(scenario, work_dir=tmp_path / name, database=backend)
    reports.append(report)
    assert report.ok, report.problems()
    assert (report.lost, report.duplicated, report.misattributed) == (0, 0, 0)
    assert report.interactions > 0, "a scenario must exercise the path with real volume"
    assert report.faults == len(scenario.faults), "every fault of the scenario was injected"
