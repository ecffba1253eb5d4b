"""The campaign's controllers: outputs and behaviours, pushes from the fleet, attract checks.

From the seed's generator (``simulator.campaign``), most exhibits get a controller: a lamp
that a press lights for some seconds, a fan a broken beam runs, a motor a turn runs, and a
sign that attract mode blinks after ``idle_s`` without an event. Then a few pushes
from the fleet (some ``force``d), at moments the scenario checks accept (the exhibit
reachable, the fleet up): the agents are rebuilt on the new version in the middle of
counting, in visits and under faults, and the run must still count every interaction once
in its visit, and end with every exhibit on its newest version (``configs_final``).

The output checks are generated from the plan with an oracle that needs no behaviour
engine: attract mode blinks the sign once the exhibit has had no event for ``idle_s``
since its last touch, boot or rebuild, and stops at the next touch. A check is placed only
where that is certain: ``idle_s`` plus a margin after the last such moment (a rebuild may
come any time from a push until its visit is checked in and the exhibit can hear it), and
a second after a touch that followed a blinking sign. Quiet hours are left out: the Pi's
clock decides them, and the campaign's clocks are wrong on purpose.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulator.plan import build_plan
from simulator.scenario import Scenario
from simulator.scenario_checks import (
    checked_out,
    checkout_moments,
    power_off,
    targets,
    unreachable,
)
from simulator.scenario_faults import boots

MARGIN = timedelta(seconds=5)
STOPPED = timedelta(seconds=2)
"""After a touch, when the sign must be safe: written to the second, at least a second on."""
PUSHES = (0, 3)
"""How many pushes a seed draws, at most (a refused one is drawn again)."""
CHECKS_PER_EXHIBIT = 3


def controller(rng: random.Random, inputs: list[Any], idle_s: int) -> dict[str, Any]:
    """A controller for ``inputs``: each input drives an output; the sign attracts."""
    outputs: list[dict[str, Any]] = [{"name": "sign", "kind": "led"}]
    rules: list[dict[str, Any]] = []
    for spec in inputs:
        kind = spec if isinstance(spec, str) else spec["kind"]
        name = spec if isinstance(spec, str) else spec["name"]
        if kind == "button":
            outputs.append({"name": "lamp", "kind": "led"})
            seconds = rng.randint(1, 10)
            action = rng.choice(["on", "blink"])
            rules.append(
                {
                    "input": name,
                    "event": "press",
                    "output": "lamp",
                    "action": action,
                    "seconds": seconds,
                }
            )
        elif kind == "beam":
            outputs.append({"name": "fan", "kind": "relay", "active_high": False})
            rules.append({"input": name, "event": "beam_broken", "output": "fan", "action": "on"})
            rules.append(
                {"input": name, "event": "beam_restored", "output": "fan", "action": "off"}
            )
        elif kind == "rotary":
            outputs.append({"name": "motor", "kind": "motor"})
            rules.append(
                {
                    "input": name,
                    "event": "rotation",
                    "output": "motor",
                    "action": "speed",
                    "speed": rng.choice([0.5, 1.0, -0.5]),
                    "seconds": 3,
                }
            )
    attract = {"idle_s": idle_s, "actions": [{"output": "sign", "action": "blink"}]}
    return {"outputs": outputs, "behaviours": rules, "attract": attract}


def add_controllers(
    rng: random.Random,
    raw: dict[str, Any],
    window: tuple[datetime, datetime],
    valid: Callable[[dict[str, Any]], Scenario | None],
    zone: str,
) -> None:
    """Give most exhibits of ``raw`` a controller, draw pushes, and place attract checks
    (times written to the second, in the scenario's time ``zone``)."""

    def text(at: datetime) -> str:
        return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S")

    idle: dict[str, int] = {}
    for exhibit in raw["exhibits"]:
        if rng.random() < 0.75:
            idle[exhibit["id"]] = rng.choice([60, 120, 300])
            exhibit["controller"] = controller(rng, exhibit["inputs"], idle[exhibit["id"]])
    if not idle:
        return
    raw["configs"] = []
    wanted = rng.randint(*PUSHES)
    start, end = window
    for _ in range(wanted * 5):
        if len(raw["configs"]) >= wanted:
            break
        exhibit_id = rng.choice(sorted(idle))
        inputs = next(e["inputs"] for e in raw["exhibits"] if e["id"] == exhibit_id)
        minutes = int((end - start).total_seconds() // 60)
        at = start + timedelta(minutes=rng.randint(0, minutes))
        push = {
            "at": text(at),
            "exhibits": [exhibit_id],
            "force": rng.random() < 0.3,
            "controller": controller(rng, inputs, idle[exhibit_id]),
        }
        raw["configs"].append(push)
        if valid(raw) is None:
            raw["configs"].pop()
    scenario = valid(raw)
    if scenario is None:  # cannot happen: every step above was valid
        raise AssertionError("a generated controller made the scenario invalid")
    touches: dict[str, list[datetime]] = {exhibit_id: [] for exhibit_id in idle}
    for touch in build_plan(scenario).touches:
        touches.get(touch.exhibit_id, []).append(touch.at)
    raw["output_checks"] = [
        {"at": text(at), "exhibits": [exhibit_id], "outputs": {"sign": state}, "why": why}
        for exhibit_id in sorted(idle)
        for at, state, why in _attract_checks(
            rng, scenario, exhibit_id, touches[exhibit_id], idle[exhibit_id]
        )
    ]


def _resets(
    scenario: Scenario, exhibit_id: str
) -> tuple[list[datetime], list[tuple[datetime, datetime]]]:
    """Moments besides its touches the exhibit's idle time starts again: its boots (the sign
    is then safe, blinking before or not); and spans in which a push may rebuild it."""
    starts = [scenario.start]
    for fault in scenario.faults:
        if getattr(fault, "exhibit", None) == exhibit_id:
            starts += [moment for boot in boots(fault) for moment in (boot.down, boot.up)]
    moments = list(checkout_moments(scenario))
    visits = [(held.start, held.end) for _, held in checked_out(moments, exhibit_id)]
    dark = unreachable(scenario, exhibit_id)
    rebuilds: list[tuple[datetime, datetime]] = []
    for push in scenario.configs:
        if exhibit_id not in targets(push.exhibits, scenario):
            continue
        latest = push.at
        for first, last in visits:
            if first <= push.at <= last and not push.force:
                latest = max(latest, last)  # it waits for the check-in
        for window in dark:  # and hears of the check-in only once it is reachable
            if window.start <= latest <= window.end:
                latest = max(latest, window.end)
        rebuilds.append((push.at, latest))
        starts += [push.at, latest]
    return sorted(starts), rebuilds


def _attract_checks(
    rng: random.Random,
    scenario: Scenario,
    exhibit_id: str,
    touches: list[datetime],
    idle_s: int,
) -> list[tuple[datetime, str, str]]:
    starts, rebuilds = _resets(scenario, exhibit_id)
    resets = sorted({*touches, *starts})
    idle = timedelta(seconds=idle_s)
    off = power_off(scenario, exhibit_id)
    found: list[tuple[datetime, str, str]] = []
    for before, after in zip(resets, [*resets[1:], scenario.end], strict=True):
        blink_at = before + idle + MARGIN
        if blink_at + MARGIN >= after or any(w.holds(blink_at) for w in off):
            continue
        if any(first <= blink_at <= last + idle + MARGIN for first, last in rebuilds):
            continue
        found.append((blink_at, "blink", f"idle {idle_s} s: attract mode blinks the sign"))
        if after in touches and after not in starts and after + MARGIN < scenario.end:
            stopped = after + STOPPED  # the touch's event is handled by then
            if stopped not in resets and not any(w.holds(stopped) for w in off):
                found.append((stopped, "safe", "a touch stops attract mode"))
    if len(found) > CHECKS_PER_EXHIBIT:
        found = sorted(rng.sample(found, CHECKS_PER_EXHIBIT))
    return found
