"""The signal model: gestures as real hardware makes them, bounded by what bounce can be."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import yaml

from device.settings.wiring import DEFAULT_DEBOUNCE_S
from simulator.errors import ScenarioError
from simulator.scenario_files import load_scenario
from simulator.signals import CLEAN, Bounce, Edge, SignalModel, Span, burst, gesture, play

DEBOUNCE = {str(kind): times for kind, times in DEFAULT_DEBOUNCE_S.items()}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"


def runs(edges: list[Edge], pin: str = "pin") -> list[tuple[bool, float]]:
    """(level, how long it lasted) of each level but the last, on one pin."""
    own = [edge for edge in edges if edge.pin == pin]
    return [(a.high, b.at - a.at) for a, b in itertools.pairwise(own)]


def test_a_button_press_bounces_on_both_edges_but_no_bounce_level_holds() -> None:
    for seed in range(300):
        press = gesture(SignalModel(), "button", random.Random(seed))
        levels = runs(list(press.edges))
        assert press.edges[0].high is False  # pressed ...
        assert press.edges[-1].high is True  # ... and released
        held = [(high, length) for high, length in levels if length >= DEBOUNCE["button"][0]]
        assert len(held) == 1, "one level holds: the press; every other one is bounce"
        assert held[0][0] is False
        assert 0.08 <= held[0][1] <= 0.25 + 0.003
        assert press.length <= SignalModel().longest("button")


def test_the_defaults_bounce_a_lot_and_repeat_from_their_seed() -> None:
    model = SignalModel()
    sizes = [len(gesture(model, "button", random.Random(n)).edges) for n in range(100)]
    assert sum(sizes) / len(sizes) > 10  # 1-40 ms and 5-20 ms of 2 ms toggles
    assert gesture(model, "beam", random.Random(5)) == gesture(model, "beam", random.Random(5))
    clean = [len(gesture(CLEAN, kind, random.Random(1)).edges) for kind in ("button", "beam")]
    assert clean == [2, 2]


def test_a_pir_presence_drops_out_and_retriggers_without_ending() -> None:
    model = SignalModel()
    for seed in range(50):
        presence = gesture(model, "motion", random.Random(seed))
        levels = runs(list(presence.edges))
        assert presence.edges[0].high
        assert not presence.edges[-1].high
        assert all(length < DEBOUNCE["motion"][1] for high, length in levels if not high)
        assert all(length >= DEBOUNCE["motion"][0] for high, length in levels if high)
    assert any(len(gesture(model, "motion", random.Random(n)).edges) > 2 for n in range(50))


def test_an_encoder_turn_is_quadrature_with_chatter_on_the_channel_that_changes() -> None:
    turn = gesture(SignalModel(), "rotary", random.Random(3), steps=-2)
    state = {"a": True, "b": True}
    settled = []
    for edge in turn.edges:
        state[edge.pin] = edge.high
        settled.append((state["a"], state["b"]))
    assert settled[-1] == (True, True)  # back at a detent
    assert turn.edges[0].pin == "b"  # counter-clockwise: B leads


def test_a_burst_ends_on_its_level_and_play_waits_between_edges() -> None:
    rng = random.Random(1)
    edges = burst(
        rng, Bounce(duration=Span(low=0.01, high=0.01), period=0.002), at=1, pin="p", high=False
    )
    assert edges[0] == Edge(1, "p", False)
    assert edges[-1].high is False
    assert len(edges) > 3
    done: list[tuple[str, bool]] = []
    waited: list[float] = []
    play(
        gesture(CLEAN, "button", random.Random(2)), lambda p, h: done.append((p, h)), waited.append
    )
    assert done == [("pin", False), ("pin", True)]
    assert len(waited) == 1
    assert 0.08 <= waited[0] <= 0.25


def test_the_docs_signals_block_is_a_valid_part_of_a_scenario(tmp_path: Path) -> None:
    text = DOCS.read_text()
    scenario = yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    signals_block = text.split("```yaml\nsignals:", 1)[1].split("```", 1)[0]
    scenario["signals"] = yaml.safe_load("signals:" + signals_block)["signals"]
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    loaded = load_scenario(path)
    assert loaded.signals.button.hold == Span(low=0.08, high=0.25)
    assert loaded.signals.rotary.bounce.period == 0.0005
    assert loaded.signals == SignalModel()  # the block spells out the defaults


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        (
            "button: {press_bounce: {period: 25ms}}",
            r"scenario.yaml:\d+: signals.button.press_bounce: a level inside this bounce can "
            r"last up to 37.5 ms, not shorter than the agent's 30 ms button debounce",
        ),
        ("button: {hold: [250ms, 80ms]}", r"signals.button.hold: give \[shortest, longest\]"),
        ("button: {hold: [20ms, 80ms]}", r"signals.button.hold: a hold as short as 20 ms"),
        ("motion: {dropout: [1s, 4s]}", r"signals.motion.dropout: a dropout of 4 s"),
        ("beam: {flicker: {period: soon}}", r"signals.beam.flicker.period: a time is seconds"),
        ("rotary: {spin: 1}", r"signals.rotary.spin: Extra inputs are not permitted"),
    ],
)
def test_a_model_that_makes_real_presses_of_bounce_is_refused(
    tmp_path: Path, signals: str, message: str
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "name: s\nstart: 2026-03-02T06:00:00Z\nend: 2026-03-02T18:00:00Z\n"
        f"exhibits: [{{id: ex-1, visitors: null}}]\nsignals:\n  {signals}\n"
    )
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)
