"""The exhibit configuration's one checker (broker/exhibit_config.py), used by fleet and agent.

Valid documents are drawn from the whole space the schema allows (every input and output
kind, every event and action they admit); each is accepted, and breaking one field of it
in a way the schema forbids gives exactly one line naming that field.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.config_fields import ACTIONS, EVENTS, INPUTS, OUTPUTS
from broker.errors import MessageError
from broker.exhibit_config import canonical, config_hash, describe, problems
from broker.messages import ConfigReport, ExhibitConfig, Status, decode
from broker.topics import Channel

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

EXAMPLE: dict[str, Any] = {
    "inputs": [
        {"name": "button", "kind": "button", "pin": 17, "hold_s": 2},
        {"name": "beam", "kind": "beam", "pin": 22},
        {"name": "knob", "kind": "rotary", "a_pin": 20, "b_pin": 21},
    ],
    "outputs": [
        {"name": "lamp", "kind": "led", "pin": 5},
        {"name": "glow", "kind": "pwmled", "pin": 12, "active_high": False},
        {"name": "arm", "kind": "servo", "pin": 18, "min_angle": -45, "max_angle": 45},
        {"name": "fan", "kind": "motor", "forward_pin": 7, "backward_pin": 8},
        {"name": "horn", "kind": "tonal_buzzer", "pin": 13, "octaves": 2},
    ],
    "behaviours": [
        {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5},
        {"input": "button", "event": "hold", "output": "horn", "action": "tone",
         "frequency_hz": 880, "seconds": 1},
        {"input": "beam", "event": "beam_broken", "output": "fan", "action": "speed",
         "speed": 0.5},
        {"input": "beam", "event": "beam_restored", "output": "fan", "action": "off"},
        {"input": "knob", "event": "rotation", "direction": "cw", "output": "arm",
         "action": "angle", "angle": 30},
    ],
    "attract": {"idle_s": 120, "actions": [{"output": "glow", "action": "pulse", "fade_s": 1}]},
    "quiet_hours": {"start": "18:00", "end": "08:00"},
    "bucket_seconds": 60,
    "session_idle_s": 30,
}  # fmt: skip


def test_the_example_is_valid_and_hashes_its_canonical_json() -> None:
    assert problems(EXAMPLE) == []
    reordered = json.loads(json.dumps(EXAMPLE))
    reordered["outputs"][0] = {"pin": 5, "kind": "led", "name": "lamp"}
    assert config_hash(reordered) == config_hash(EXAMPLE)  # key order is not meaning
    assert len(config_hash(EXAMPLE)) == 16
    changed = json.loads(json.dumps(EXAMPLE))
    changed["behaviours"][0]["seconds"] = 6
    assert config_hash(changed) != config_hash(EXAMPLE)


def _pins(count: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, 27), min_size=count, max_size=count, unique=True)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document: inputs and outputs of any kinds on distinct pins, rules between them."""
    input_kinds = draw(st.lists(st.sampled_from(sorted(INPUTS)), min_size=1, max_size=4))
    output_kinds = draw(st.lists(st.sampled_from(sorted(OUTPUTS)), max_size=4))
    wanted = sum(len([f for f in INPUTS[k] if f.endswith("pin")]) for k in input_kinds) + sum(
        len([f for f in OUTPUTS[k] if f.endswith("pin")]) for k in output_kinds
    )
    free = iter(draw(_pins(wanted)))
    inputs = [
        {
            "name": f"in{i}",
            "kind": kind,
            **{f: next(free) for f in INPUTS[kind] if f.endswith("pin")},
        }
        for i, kind in enumerate(input_kinds)
    ]
    for part in inputs:
        if part["kind"] == "button" and draw(st.booleans()):
            part["hold_s"] = draw(st.floats(0.1, 60))
    outputs = [
        {
            "name": f"out{i}",
            "kind": kind,
            **{f: next(free) for f in OUTPUTS[kind] if f.endswith("pin")},
        }
        for i, kind in enumerate(output_kinds)
    ]
    behaviours = []
    for _ in range(draw(st.integers(0, 5)) if outputs else 0):
        source = draw(st.sampled_from(inputs))
        events = [e for e, kinds in EVENTS.items() if source["kind"] in kinds]
        events = [e for e in events if e != "hold" or "hold_s" in source]
        if not events:
            continue
        target = draw(st.sampled_from(outputs))
        verbs = [a for a, kinds in ACTIONS.items() if target["kind"] in kinds]
        rule = {"input": source["name"], "event": draw(st.sampled_from(events))}
        rule |= {"output": target["name"], "action": draw(st.sampled_from(verbs))}
        rule |= {"tone": {"frequency_hz": 440}, "angle": {"angle": 0}, "speed": {"speed": -1}}.get(
            rule["action"], {}
        )
        if rule["action"] != "off" and draw(st.booleans()):
            rule["seconds"] = draw(st.floats(0.01, 3600))
        behaviours.append(rule)
    document: dict[str, Any] = {"inputs": inputs, "outputs": outputs, "behaviours": behaviours}
    if draw(st.booleans()):
        document["bucket_seconds"] = draw(st.floats(0.5, 86_400))
    return document


@given(documents())
def test_every_document_the_schema_allows_is_accepted(document: dict[str, Any]) -> None:
    assert problems(document) == []
    assert json.loads(canonical(document)) == document


BREAKS = [
    (("inputs", 0, "pin"), 28, "inputs[0].pin: 28 is above 27"),
    (("inputs", 0, "pin"), True, "inputs[0].pin: must be a whole number"),
    (("inputs", 0, "kind"), "knob", "inputs[0].kind: 'knob' is not one of"),
    (("outputs", 0, "pin"), 17, "outputs[0].pin: pin 17 is used by both 'button' and 'lamp'"),
    (("outputs", 0, "colour"), 1, "outputs[0].colour: is not a setting here"),
    (("outputs", 2, "min_angle"), 50, "outputs[2].max_angle: must be above min_angle"),
    (("behaviours", 0, "input"), "knob2", "behaviours[0].input: no input is called 'knob2'"),
    (("behaviours", 0, "event"), "motion", "behaviours[0].event: a button input has no 'motion'"),
    (("behaviours", 0, "action"), "angle", "behaviours[0].action: a led cannot 'angle'"),
    (("behaviours", 0, "seconds"), 0, "behaviours[0].seconds: 0 is not above 0"),
    (("behaviours", 1, "frequency_hz"), 2000, "behaviours[1].frequency_hz: 2000 Hz is outside"),
    (("behaviours", 2, "speed"), 2, "behaviours[2].speed: 2 is above 1"),
    (("behaviours", 4, "angle"), 60, "behaviours[4].angle: 60 is outside -45..45"),
    (("behaviours", 3, "direction"), "cw", "behaviours[3].direction: only a rotation has"),
    (("attract", "idle_s"), -1, "attract.idle_s: -1 is not above 0"),
    (("attract", "actions", 0, "output"), "x", "attract.actions[0].output: no output is called"),
    (("quiet_hours", "end"), "25:00", "quiet_hours.end: '25:00' is not allowed; use HH:MM"),
    (("quiet_hours", "end"), "18:00", "quiet_hours.end: equals start"),
    (("bucket_seconds",), "60", "bucket_seconds: must be a number"),
]


@pytest.mark.parametrize(("where", "value", "expected"), BREAKS)
def test_a_broken_field_is_one_line_naming_it(
    where: tuple[str | int, ...], value: object, expected: str
) -> None:
    document = json.loads(json.dumps(EXAMPLE))
    target = document
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    found = problems(document)
    assert found, where
    line = describe(found)
    assert line.startswith(f"setting {expected}"), line
    assert "\n" not in line


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_any_json_at_all_gets_problems_or_passes_never_raises(value: Any) -> None:
    found = problems(value if not isinstance(value, dict) else {"inputs": [], **value})
    if found:
        assert describe(found).startswith("setting ")


def _message(**overrides: Any) -> dict[str, Any]:
    fields = {
        "schema_version": 1,
        "exhibit_id": "exhibit-001",
        "version": 3,
        "config_hash": config_hash(EXAMPLE),
        "config": EXAMPLE,
        "issued_at": T0.isoformat(),
    }
    return fields | overrides


def test_a_config_message_round_trips_and_is_refused_with_the_checkers_line() -> None:
    message = decode(Channel.CONFIG, json.dumps(_message()).encode())
    assert isinstance(message, ExhibitConfig)
    assert decode(Channel.CONFIG, message.to_payload()) == message
    bad = json.loads(json.dumps(EXAMPLE))
    bad["outputs"][0]["pin"] = 99
    with pytest.raises(MessageError, match=r"outputs\[0\]\.pin: 99 is above 27") as caught:
        decode(
            Channel.CONFIG, json.dumps(_message(config=bad, config_hash=config_hash(bad))).encode()
        )
    assert caught.value.reason == "invalid"
    with pytest.raises(MessageError, match="config_hash is not the hash"):
        decode(Channel.CONFIG, json.dumps(_message(config_hash="0" * 16)).encode())


def test_reports_and_status_carry_version_and_hash() -> None:
    report = ConfigReport(
        exhibit_id="exhibit-001",
        version=3,
        config_hash="0123456789abcdef",
        outcome="refused",
        reason="setting outputs[0].pin: pin 27 is the indicator's; wire it elsewhere",
        at=T0,
        clock_synced=False,
    )
    assert decode(Channel.CONFIGURED, report.to_payload()) == report
    status = Status(exhibit_id="exhibit-001", online=True, at=T0, config_version=3)
    assert decode(Channel.STATUS, status.to_payload()) == status
    with pytest.raises(MessageError, match="reason"):
        decode(Channel.CONFIGURED, report.to_payload().replace(b"indicator", b"in\\ndicator"))


@given(
    documents(),
    st.sampled_from(["pin", "hold_s", "threshold_m", "steps_per_interaction"]),
    st.one_of(st.integers(-5, 40), st.floats(-1, 100), st.text(max_size=3)),
)
def test_inputs_are_judged_as_the_agents_own_settings_judge_them(
    document: dict[str, Any], field: str, value: object
) -> None:
    """The agent's local settings and a pushed document accept and refuse the same inputs."""
    from device.core.errors import ConfigError
    from device.settings.config import load_settings  # the agent's reader of EXHIBIT_INPUTS

    inputs = document["inputs"]
    kinds = [i for i, part in enumerate(inputs) if field in INPUTS[part["kind"]]]
    if kinds:
        inputs[kinds[0]][field] = value
    pushed = [p for p in problems({"inputs": inputs}) if p.loc[0] == "inputs"]
    try:
        load_settings(use_environment=False, exhibit_id="exhibit-001", inputs=inputs)
        agent_refuses = ""
    except ConfigError as exc:
        agent_refuses = str(exc)
    if agent_refuses:
        assert pushed, f"the agent refuses ({agent_refuses}) what the fleet would push"
    elif not isinstance(value, str):
        # The agent also reads environment strings ("17" is 17); a pushed document is JSON
        # and must say 17. Numbers are judged alike.
        assert not pushed, f"the fleet refuses ({describe(pushed)}) what the agent runs"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


@given(st.data())
def test_one_field_of_a_good_document_replaced_by_any_json_never_breaks_the_checker(
    data: st.DataObject,
) -> None:
    document = json.loads(json.dumps(EXAMPLE))
    path = data.draw(st.sampled_from(_paths(document)))
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = data.draw(JSON)
    found = problems(document)  # never raises
    if found:
        assert describe(found).startswith("setting ")
    else:
        assert len(config_hash(document)) == 16
