"""From a scenario to a plan: every touch (true time, exhibit, input, true visit) and a timeline.

A pure, seeded function of the scenario: the same file gives the same plan. Visitors
arrive per hour of each school day (a Poisson number of groups), each group uses the
exhibit for a session of random length with a number of interactions in the profile's
range. Touches of one exhibit are at least ``MIN_GAP`` apart (more if one of its gestures
takes longer: a PIR's presence, see ``spacing``), and only from one bucket
after a visit's daily start to just before its end: the fleet places a count record by
its bucket's start, so a touch closer to the edge could legitimately land on the other
side (docs/simulator.md). Touches while an exhibit has no power are not made.

The timeline holds what happens between touches, in order: check-outs and check-ins,
configuration pushes and output checks, and each fault's actions (a partition's cut and
restore, a power cut and the boot after it, a clock sync, a broker going down and up, ...).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from device.settings.wiring import RotaryInput
from simulator.scenario import ExhibitDef, Scenario, VisitDef, VisitorProfile
from simulator.scenario_checks import ONE_EXHIBIT, debounce_by_kind, power_off, targets
from simulator.scenario_faults import (
    ApiRestart,
    BrokerKill,
    BrokerRestart,
    ClockJump,
    ClonedIdentity,
    DatabaseRestore,
    DuplicateDelivery,
    Partition,
    ServerPowerCut,
    WorkerKill,
    boots,
)

MIN_GAP = timedelta(seconds=1)
"""Between two touches of one exhibit at least: longer than a button's, a beam's or a dial's
whole gesture (``simulator.signals``) and the agent's release debounce after it."""
SETTLE_MARGIN_S = 0.05
ROTARY_STEPS = RotaryInput(name="dial", a_pin=20, b_pin=21).steps_per_interaction
"""Detents per counted turn of a simulated dial (the agent's default)."""
EDGE = timedelta(seconds=1)
DEPOT_GAP = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class PlannedTouch:
    """One interaction a visitor will make; ``visit`` is the index of its true visit."""

    at: datetime
    exhibit_id: str
    input: str
    visit: int | None


@dataclass(frozen=True, slots=True)
class Event:
    """Something the engine does at ``at`` between touches (see ``ACTIONS``)."""

    at: datetime
    action: str
    fault: int | None = None
    visit: int | None = None
    exhibits: tuple[str, ...] = ()
    offset: timedelta = timedelta(0)
    """A boot's clock (wall minus true time), or how far a clock jumps."""
    in_flight: int = 0
    """Presses in the instant before a power cut."""
    item: int | None = None
    """Which of the scenario's ``configs`` (a push) or ``output_checks`` (a check)."""


ACTIONS = (
    "checkout",
    "checkin",
    "partition_cut",
    "partition_restore",
    "power_cut",
    "power_on",
    "reboot",
    "clock_jump",
    "clock_sync",
    "broker_stop",
    "broker_start",
    "api_stop",
    "api_start",
    "duplicate",
    "clone",
    "ingest_stop",
    "broker_kill",
    "server_kill",
    "server_start",
    "worker_kill",
    "backup",
    "restore",
    "config_push",
    "output_check",
)


@dataclass(slots=True)
class Plan:
    """Touches in time order and the timeline of events."""

    touches: list[PlannedTouch]
    events: list[Event]
    by_exhibit: dict[str, int] = field(default_factory=dict)


def gesture_gap(scenario: Scenario, kind: str) -> timedelta:
    """From the start of one interaction of ``kind`` until the agent has settled it."""
    steps = ROTARY_STEPS if kind == "rotary" else 1
    release = debounce_by_kind().get(kind, (0.0, 0.0))[1]
    seconds = scenario.signals.longest(kind, steps) + release + SETTLE_MARGIN_S
    return timedelta(seconds=seconds)


def spacing(scenario: Scenario, exhibit: ExhibitDef) -> timedelta:
    """How far apart two touches of ``exhibit`` start, at least (gestures never overlap)."""
    return max([MIN_GAP, *(gesture_gap(scenario, spec.kind) for spec in exhibit.inputs)])


def true_visit(scenario: Scenario, exhibit_id: str, at: datetime) -> int | None:
    """Index of the visit whose window holds ``at`` and lists the exhibit, if any."""
    for index, visit in enumerate(scenario.visits):
        if exhibit_id in visit.exhibits and visit.starts_at <= at < visit.ends_at:
            return index
    return None


def build_plan(scenario: Scenario) -> Plan:
    """The plan of ``scenario`` (see the module docstring)."""
    touches: list[PlannedTouch] = []
    for exhibit_id, exhibit in scenario.exhibit_defs().items():
        profile = scenario.profile(exhibit)
        names = exhibit.count_names()
        times: list[datetime] = []
        if profile is not None:
            for index, visit in enumerate(scenario.visits):
                if exhibit_id in visit.exhibits:
                    rng = random.Random(f"{scenario.seed}:{exhibit_id}:{index}")  # noqa: S311
                    times.extend(_visit_times(rng, visit, profile, scenario.agent.bucket_seconds))
        gap = spacing(scenario, exhibit)
        own = _spaced(sorted(times), scenario, exhibit_id, gap)
        rng = random.Random(f"{scenario.seed}:{exhibit_id}:inputs")  # noqa: S311
        weights = [profile.inputs.get(n, 0.0) if profile and profile.inputs else 1.0 for n in names]
        for at in own:
            name = rng.choices(names, weights)[0]
            touches.append(PlannedTouch(at, exhibit_id, name, true_visit(scenario, exhibit_id, at)))
        touches.extend(_depot_touches(scenario, exhibit_id, names, max(gap, DEPOT_GAP)))
    touches.sort(key=lambda t: (t.at, t.exhibit_id))
    counts: dict[str, int] = {}
    for touch in touches:
        counts[touch.exhibit_id] = counts.get(touch.exhibit_id, 0) + 1
    return Plan(touches, timeline(scenario), counts)


def _visit_times(
    rng: random.Random, visit: VisitDef, profile: VisitorProfile, bucket_s: float
) -> list[datetime]:
    times: list[datetime] = []
    low, high = profile.interactions_per_session
    mean_length = profile.session_length.total_seconds()
    for day in visit.days:
        start, end = visit.window(day)
        first, last = start + timedelta(seconds=bucket_s) + EDGE, end - EDGE
        for hour, rate in enumerate(profile.arrivals_per_hour):
            hour_start = start + timedelta(hours=hour)
            for _ in range(_poisson(rng, rate)):
                arrival = hour_start + timedelta(seconds=rng.uniform(0, 3600))
                length = min(max(rng.expovariate(1 / mean_length), 5.0), 4 * mean_length)
                offsets = [
                    0.0,
                    *sorted(rng.uniform(0, length) for _ in range(rng.randint(low, high) - 1)),
                ]
                for offset in offsets:
                    at = arrival + timedelta(seconds=offset)
                    if first <= at < last:
                        times.append(at)
    return times


def _poisson(rng: random.Random, rate: float) -> int:
    # Knuth's method in steps of 30 keeps exp(-rate) away from underflow.
    count = 0
    while rate > 0:
        step = min(rate, 30.0)
        rate -= step
        limit, product = math.exp(-step), rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
    return count


def _spaced(
    times: list[datetime], scenario: Scenario, exhibit_id: str, gap: timedelta
) -> list[datetime]:
    """At least ``gap`` apart (pushed later, dropped past their visit day); none unpowered."""
    dark = power_off(scenario, exhibit_id)
    reboots = [  # a clean reboot or a clock jump: a touch at that instant is ambiguous
        moment
        for f in scenario.faults
        if isinstance(f, ONE_EXHIBIT) and f.exhibit == exhibit_id
        for moment in [
            *(boot.down for boot in boots(f) if not boot.hard),
            *([f.at] if isinstance(f, ClockJump) else []),
        ]
    ]
    kept: list[datetime] = []
    for at in times:
        if kept and at < kept[-1] + gap:
            at = kept[-1] + gap
            if true_visit(scenario, exhibit_id, at) is None:
                continue  # pushed past the end of the visit's day
        if any(w.start - gap <= at <= w.end + gap for w in dark):
            continue
        if any(abs((at - boot).total_seconds()) <= gap.total_seconds() for boot in reboots):
            continue
        kept.append(at)
    return kept


def _depot_touches(
    scenario: Scenario, exhibit_id: str, names: list[str], gap: timedelta
) -> list[PlannedTouch]:
    found = []
    for check in scenario.depot_checks:
        if exhibit_id in targets(check.exhibits, scenario):
            for n in range(check.touches):
                at = check.at + n * gap
                visit = true_visit(scenario, exhibit_id, at)
                found.append(PlannedTouch(at, exhibit_id, names[n % len(names)], visit))
    return found


def timeline(scenario: Scenario) -> list[Event]:
    """Every event of the scenario, in the order the engine performs them."""
    keyed: list[tuple[datetime, int, int, Event]] = []
    for index, visit in enumerate(scenario.visits):
        if visit.checkout:
            out = visit.starts_at - scenario.checkout_lead
            back = visit.ends_at + scenario.checkout_lead
            keyed.append((out, -1, 0, Event(out, "checkout", visit=index)))
            keyed.append((back, -1, 1, Event(back, "checkin", visit=index)))
    for index, push in enumerate(scenario.configs):
        ids = tuple(targets(push.exhibits, scenario))
        keyed.append((push.at, -1, 2, Event(push.at, "config_push", exhibits=ids, item=index)))
    for index, check in enumerate(scenario.output_checks):
        ids = tuple(targets(check.exhibits, scenario))
        keyed.append((check.at, -1, 3, Event(check.at, "output_check", exhibits=ids, item=index)))
    for index, _fault in enumerate(scenario.faults):
        for phase, event in enumerate(_fault_events(scenario, index)):
            keyed.append((event.at, index, phase, event))
    keyed.sort(key=lambda item: item[:3])
    return [event for *_key, event in keyed]


def _fault_events(scenario: Scenario, index: int) -> list[Event]:
    fault = scenario.faults[index]
    at = fault.at
    if isinstance(fault, Partition):
        ids = tuple(targets(fault.exhibits, scenario))
        return [
            Event(at, "partition_cut", index, exhibits=ids),
            Event(at + fault.duration, "partition_restore", index, exhibits=ids),
        ]
    if isinstance(fault, ClockJump):
        one = (fault.exhibit,)
        events = [Event(at, "clock_jump", index, exhibits=one, offset=fault.by)]
        if fault.sync_at is not None:
            events.append(Event(fault.sync_at, "clock_sync", index, exhibits=one))
        return events
    if isinstance(fault, ONE_EXHIBIT) and not isinstance(fault, ClonedIdentity):
        one = (fault.exhibit,)
        events = []
        for boot in boots(fault):
            if boot.hard:
                cut = Event(boot.down, "power_cut", index, exhibits=one, in_flight=boot.in_flight)
                events.append(cut)
                events.append(Event(boot.up, "power_on", index, exhibits=one, offset=boot.offset))
            else:
                events.append(Event(boot.down, "reboot", index, exhibits=one, offset=boot.offset))
        if fault.sync_at is not None:
            events.append(Event(fault.sync_at, "clock_sync", index, exhibits=one))
        return events
    if isinstance(fault, BrokerRestart):
        return [Event(at, "broker_stop", index), Event(at + fault.duration, "broker_start", index)]
    if isinstance(fault, ApiRestart):
        return [Event(at, "api_stop", index), Event(at + fault.duration, "api_start", index)]
    if isinstance(fault, DuplicateDelivery):
        return [Event(at, "duplicate", index, exhibits=tuple(targets(fault.exhibits, scenario)))]
    if isinstance(fault, BrokerKill):
        kill = [Event(at, "broker_kill", index), Event(at + fault.duration, "server_start", index)]
        if fault.ingest == "down":
            return [Event(at - fault.ingest_down, "ingest_stop", index), *kill]
        return kill
    if isinstance(fault, ServerPowerCut):
        return [Event(at, "server_kill", index), Event(at + fault.duration, "server_start", index)]
    if isinstance(fault, WorkerKill):
        return [Event(at, "worker_kill", index)]
    if isinstance(fault, DatabaseRestore):
        return [Event(fault.backup_at, "backup", index), Event(at, "restore", index)]
    assert isinstance(fault, ClonedIdentity)
    return [Event(at, "clone", index, exhibits=(fault.exhibit,))]
