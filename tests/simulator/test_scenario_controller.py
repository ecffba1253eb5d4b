"""Scenario files with controllers: outputs, behaviours, pushes from the fleet, output checks.

What an exhibit would refuse is refused when the file is read (the agent's own checker,
located at the scenario's line); pins left out are placed apart from the inputs'; the
timeline carries pushes and checks; and ``judge`` tells every expected state from others.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.exhibit_config import problems
from simulator.errors import ScenarioError
from simulator.plan import timeline
from simulator.scenario import InputDef
from simulator.scenario_controller import (
    OUTPUT_PIN_POOL,
    PIN_POOL,
    ControllerDef,
    document,
    judge,
    with_pins,
)
from simulator.scenario_files import load_scenario

BASE = """\
name: tiny
timezone: Europe/Riga
start: 2026-03-02T06:00:00
end: 2026-03-02T18:00:00
visitors:
  default: {arrivals_per_hour: [4, 4]}
exhibits:
  - id: e1
    inputs: [button, beam]
    controller:
      outputs: [{name: lamp, kind: led}, {name: fan, kind: motor}]
      behaviours: [{input: button, event: press, output: lamp, action: "on", seconds: 5}]
  - {id: e2}
schools:
  - {key: north, name: North, municipality: Rēzekne, region: Latgale}
visits:
  - {key: v1, school: north, days: 2026-03-02, hours: 08:00-14:00, exhibits: [e1, e2]}
"""


def load(tmp_path: Path, extra: str, base: str = BASE) -> Any:
    path = tmp_path / "scenario.yaml"
    path.write_text(base + textwrap.dedent(extra))
    return load_scenario(path)


def error_of(tmp_path: Path, extra: str, base: str = BASE) -> str:
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, extra, base)
    return str(caught.value)


def test_a_controller_push_and_check_load_and_land_on_the_timeline(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        """\
        configs:
          - at: 2026-03-02T07:00:00
            exhibits: [e1, e2]
            controller:
              outputs: [{name: lamp, kind: led}]
        output_checks:
          - {at: 2026-03-02T07:00:05, exhibits: [e1], outputs: {lamp: safe, fan: {speed: 0}}}
        """,
    )
    events = [(e.action, e.exhibits, e.item) for e in timeline(scenario)]
    assert ("config_push", ("e1", "e2"), 0) in events
    assert ("output_check", ("e1",), 0) in events
    push = events.index(("config_push", ("e1", "e2"), 0))
    check = events.index(("output_check", ("e1",), 0))
    checkout = next(i for i, event in enumerate(events) if event[0] == "checkout")
    assert push < check < checkout  # 07:00 and 07:00:05 local, before the 07:30 check-out


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "",  # the base itself, with a rule for an event a button does not have
            None,
        ),
        (
            """\
            configs:
              - at: 2026-03-02T07:00:00
                exhibits: [e1]
                controller:
                  outputs: [{name: lamp, kind: led}]
                  behaviours: [{input: beam, event: motion, output: lamp, action: "on"}]
            """,
            "configs[0].controller.behaviours[0].event: a beam input has no 'motion' event",
        ),
        (
            """\
            configs:
              - {at: 2026-03-02T07:00:00, exhibits: [e9], controller: {}}
            """,
            "configs[0].exhibits: no exhibit 'e9'",
        ),
        (
            """\
            output_checks:
              - {at: 2026-03-02T07:00:00, exhibits: [e1], outputs: {horn: tone}}
            """,
            "output_checks[0].outputs.horn: e1 has no output 'horn' (fan, lamp)",
        ),
        (
            """\
            output_checks:
              - {at: 2026-03-02T07:00:00, exhibits: [e1], outputs: {lamp: shining}}
            """,
            "expect one of on, off, safe, blink, pulse, tone (got 'shining')",
        ),
        (
            """\
            output_checks:
              - {at: 2026-03-02T07:00:00, exhibits: [e1], outputs: {lamp: {hue: 3}}}
            """,
            "expect one measure of angle, speed, value, color, frequency_hz",
        ),
        (
            """\
            output_checks:
              - {at: 2026-03-03T07:00:00, exhibits: [e1], outputs: {lamp: "on"}}
            """,
            "output_checks[0].at: outside the scenario",
        ),
        (
            """\
            faults:
              - {kind: power_cut, exhibit: e1, at: 2026-03-02T15:00:00, for: 10m}
            output_checks:
              - {at: 2026-03-02T15:05:00, exhibits: [e1], outputs: {lamp: "off"}}
            """,
            "output_checks[0].at: e1 has no power then (a power cut)",
        ),
        (
            """\
            faults:
              - {kind: partition, exhibits: [e2], at: 2026-03-02T15:00:00, for: 1h}
            configs:
              - at: 2026-03-02T15:30:00
                exhibits: [e2]
                controller: {outputs: [{name: lamp, kind: led}]}
            """,
            "configs[0].at: e2 cannot hear it then (a partition)",
        ),
        (
            """\
            faults:
              - {kind: api_restart, at: 2026-03-02T15:00:00, for: 10m}
            configs:
              - at: 2026-03-02T15:05:00
                exhibits: [e2]
                controller: {outputs: [{name: lamp, kind: led}]}
            """,
            "configs[0].at: falls in a fleet API restart: staff could not push it",
        ),
    ],
)
def test_what_an_exhibit_or_the_fleet_would_refuse_is_refused(
    tmp_path: Path, extra: str, expected: str | None
) -> None:
    if expected is None:
        bad = BASE.replace("event: press", "event: motion")
        message = error_of(tmp_path, "", bad)
        assert (
            "exhibits[0].controller.behaviours[0].event: a button input has no 'motion'" in message
        )
        assert "scenario.yaml:12:" in message  # the line of the rules
        return
    assert expected in error_of(tmp_path, extra)


def test_output_pins_are_given_apart_from_the_inputs_and_from_pins_written() -> None:
    outputs = [
        {"name": "rgb", "kind": "rgbled"},
        {"name": "lamp", "kind": "led", "pin": OUTPUT_PIN_POOL[1]},
        {"name": "fan", "kind": "motor"},
    ]
    placed = with_pins(outputs)
    pins = [value for part in placed for key, value in part.items() if key.endswith("pin")]
    assert len(pins) == len(set(pins)) == 6
    assert not set(pins) & set(PIN_POOL)
    assert placed[1]["pin"] == OUTPUT_PIN_POOL[1]
    assert {"red_pin", "green_pin", "blue_pin"} <= set(placed[0])
    assert {"forward_pin", "backward_pin"} <= set(placed[2])


def test_the_document_of_a_simulated_exhibit_passes_the_agents_checker() -> None:
    inputs = [InputDef(name="button", kind="button"), InputDef(name="dial", kind="rotary")]
    controller = ControllerDef(
        outputs=[{"name": f"o{i}", "kind": "led"} for i in range(len(OUTPUT_PIN_POOL))],
        behaviours=[{"input": "button", "event": "press", "output": "o0", "action": "on"}],
    )
    assert problems(document(inputs, controller)) == []
    too_many = ControllerDef(outputs=[*controller.outputs, {"name": "extra", "kind": "led"}])
    assert problems(document(inputs, too_many)), "more outputs than pins must be refused"


def _state(doing: str, active: bool, value: Any = None, **more: Any) -> dict[str, Any]:
    return {"doing": doing, "active": active, "value": value, **more}


@pytest.mark.parametrize(
    ("expected", "state", "ok"),
    [
        ("on", _state("on", True, 1.0), True),
        ("on", _state("safe", True, 1.0), True),  # a lamp whose safe state is on
        ("on", _state("blink", True, 1.0), False),  # blinking is not steady on
        ("off", _state("off", False, 0.0), True),
        ("off", _state("safe", False, 0.0), True),
        ("off", _state("pulse", False, 0.0), False),
        ("safe", _state("off", False, 0.0), False),  # switched off by a rule, not put back
        ("blink", _state("blink", False, 0.0), True),
        ("tone", _state("safe", False), False),
        ({"angle": 45}, _state("angle", True, 0.5, angle=45.2), True),
        ({"angle": 45}, _state("angle", True, 0.5, angle=46.0), False),
        ({"angle": 0}, _state("off", False, None, angle=None), False),
        ({"speed": -0.5}, _state("speed", True, -0.5), True),
        ({"color": [1, 0, 0]}, _state("on", True, [1.0, 0.0, 0.0]), True),
        ({"color": [1, 0, 0]}, _state("on", True, [1.0, 0.5, 0.0]), False),
        ({"frequency_hz": 440}, _state("tone", True, 0.0, frequency_hz=441.0), True),
        ({"frequency_hz": 440}, _state("tone", True, 0.0, frequency_hz=880.0), False),
    ],
)
def test_judge(expected: Any, state: dict[str, Any], ok: bool) -> None:
    found = judge("lamp", expected, state)
    assert (found is None) is ok, found
    if not ok:
        assert found is not None
        assert found.startswith("lamp: expected ")


def test_an_output_the_exhibit_does_not_have_is_a_difference() -> None:
    assert judge("horn", "tone", None) == "horn: no such output on the exhibit now"


@given(
    doing=st.sampled_from(["on", "off", "safe", "blink", "pulse", "tone", "angle", "speed"]),
    active=st.booleans(),
)
def test_exactly_one_steady_word_fits_any_state(doing: str, active: bool) -> None:
    """A steady output is on or off, never both; blinking or pulsing is neither."""
    state = _state(doing, active, 1.0 if active else 0.0)
    fits = {word for word in ("on", "off") if judge("x", word, state) is None}
    if doing in ("blink", "pulse"):
        assert fits == set()
        assert judge("x", doing, state) is None
    else:
        assert fits == {"on" if active else "off"}
