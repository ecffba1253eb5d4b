"""Output checks of a scenario can fail: a wrong expectation fails the run, naming the
exhibit, the output, what was expected and what the real agent's output did.

The named scenario ``controller-day`` (the reliability suite, both databases) shows the
checks passing; this shows that they are not a formality.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.engine import run_scenario
from simulator.scenario_files import load_scenario

pytestmark = pytest.mark.integration

SCENARIO = """\
name: wrong-expectations
timezone: Europe/Riga
start: 2026-03-02T06:00:00
end: 2026-03-02T08:00:00
exhibits:
  - id: e1
    visitors: null
    controller:
      outputs: [{name: lamp, kind: led}, {name: arm, kind: servo}]
      behaviours:
        - {input: button, event: press, output: lamp, action: "on", seconds: 5}
depot_checks:
  - {at: 2026-03-02T06:40:00, exhibits: [e1], touches: 1}
configs:
  - at: 2026-03-02T07:00:00
    exhibits: [e1]
    controller:
      outputs: [{name: lamp, kind: led}]
      behaviours: [{input: button, event: press, output: lamp, action: blink}]
output_checks:
  - {at: 2026-03-02T06:40:02, exhibits: [e1], outputs: {lamp: "off"}, why: wrong}
  - {at: 2026-03-02T06:40:03, exhibits: [e1], outputs: {lamp: "on", arm: {angle: 0}},
     why: right}
  - {at: 2026-03-02T06:40:04, exhibits: [e1], outputs: {arm: {angle: 30}}, why: wrong}
  - {at: 2026-03-02T07:10:00, exhibits: [e1], outputs: {lamp: safe}, config_version: 2,
     why: wrong version}
"""


@pytest.mark.timeout(180)
def test_a_wrong_output_expectation_fails_the_run_and_says_what_was_found(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text(SCENARIO)
    report = run_scenario(load_scenario(path), work_dir=tmp_path / "run")
    assert not report.ok
    assert (report.lost, report.duplicated, report.misattributed) == (0, 0, 0)
    failures = report.fault_failures
    assert len(failures) == 3, failures
    assert any(
        f.startswith("output_check at 2026-03-02T04:40:02")
        and "e1 lamp: expected off, found on" in f
        for f in failures
    ), failures
    assert any("e1 arm: expected angle 30.0, found safe (angle 0.0)" in f for f in failures)
    assert any("e1 runs version 1, not 2" in f for f in failures), failures
    with (tmp_path / "run" / "faults.jsonl").open() as log:
        lines = [json.loads(line) for line in log]
    pushed = next(line for line in lines if line["action"] == "config_push")
    assert pushed["pushed"] == {"e1": {"version": 1, "outcome": "applied"}}
    assert [line["why"] for line in lines if "failed" in line] == [
        "wrong",
        "wrong",
        "wrong version",
    ]
    right = next(line for line in lines if line.get("why") == "right")
    assert "failed" not in right
    assert right["outputs"]["e1"]["lamp"]["doing"] == "on"
