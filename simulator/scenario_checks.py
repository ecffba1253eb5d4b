"""Cross-checks of a scenario: what the models alone cannot see, each with the path it concerns.

A scenario must be simulated faithfully or refused: a check-out while the broker or the
fleet API is down could not be made (a check-out while the exhibit is partitioned or has
no power is made, and the exhibit hears it when it reconnects, as in real life), and
overlapping visits of one exhibit are refused by the fleet itself.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from broker.errors import TopicError
from broker.topics import validate_exhibit_id
from device.settings.wiring import DEFAULT_DEBOUNCE_S
from simulator.scenario import Scenario
from simulator.scenario_faults import (
    AnyFault,
    ApiRestart,
    BrokerKill,
    BrokerRestart,
    ClockAhead,
    ClockBehind,
    ClockJump,
    ClonedIdentity,
    DatabaseRestore,
    DuplicateDelivery,
    Partition,
    PowerCut,
    RebootChain,
    ServerPowerCut,
    boots,
    dark,
    span_end,
)

Loc = tuple[Any, ...]
Problem = tuple[Loc, str]
ALL = "all"


@dataclass(frozen=True, slots=True)
class Window:
    """A closed interval of true time, with where it comes from (for messages)."""

    start: datetime
    end: datetime
    what: str

    def holds(self, at: datetime) -> bool:
        """Whether ``at`` is inside, ends included."""
        return self.start <= at <= self.end


def targets(ids: list[str], scenario: Scenario) -> list[str]:
    """``ids`` with ``all`` standing for every exhibit of the scenario."""
    known = list(scenario.exhibit_defs())
    return known if ALL in ids else ids


def checkout_moments(scenario: Scenario) -> Iterator[tuple[int, str, datetime, str]]:
    """(visit index, exhibit, when, ``check-out`` or ``check-in``) of visits with checkout."""
    for index, visit in enumerate(scenario.visits):
        if not visit.checkout:
            continue
        for exhibit_id in visit.exhibits:
            yield index, exhibit_id, visit.starts_at - scenario.checkout_lead, "check-out"
            yield index, exhibit_id, visit.ends_at + scenario.checkout_lead, "check-in"


ONE_EXHIBIT = PowerCut | ClockBehind | ClockAhead | ClockJump | RebootChain | ClonedIdentity


def power_off(scenario: Scenario, exhibit_id: str) -> list[Window]:
    """When ``exhibit_id`` has no power."""
    return [
        Window(start, end, "a power cut")
        for f in scenario.faults
        if isinstance(f, ONE_EXHIBIT) and f.exhibit == exhibit_id
        for start, end in dark(f)
    ]


def unreachable(scenario: Scenario, exhibit_id: str) -> list[Window]:
    """When ``exhibit_id`` cannot hear the fleet: partitioned, powered off, broker/API down."""
    found = power_off(scenario, exhibit_id)
    for fault in scenario.faults:
        if isinstance(fault, Partition) and exhibit_id in targets(fault.exhibits, scenario):
            found.append(Window(fault.at, fault.at + fault.duration, "a partition"))
    return [*found, *fleet_down(scenario)]


def fleet_down(scenario: Scenario) -> list[Window]:
    """When nobody can reach the fleet: the broker or the fleet API is down."""
    found = []
    for fault in scenario.faults:
        if isinstance(fault, BrokerRestart):
            found.append(Window(fault.at, fault.at + fault.duration, "a broker restart"))
        elif isinstance(fault, ApiRestart):
            found.append(Window(fault.at, fault.at + fault.duration, "a fleet API restart"))
        else:
            found += [window for window in server_down(fault) if window is not None]
    return found


def server_down(fault: AnyFault) -> list[Window | None]:
    """When a server fault keeps the broker (first) and the fleet API (second) down."""
    if isinstance(fault, BrokerKill):
        end = fault.at + fault.duration
        api = Window(fault.at - fault.ingest_down, end, "ingestion stopped")
        return [Window(fault.at, end, "a broker kill"), api if fault.ingest == "down" else None]
    if isinstance(fault, ServerPowerCut):
        cut = Window(fault.at, fault.at + fault.duration, "a server power cut")
        return [cut, cut]
    if isinstance(fault, DatabaseRestore):
        return [None, Window(fault.at, fault.at, "a database restore")]
    return [None, None]


def problems(scenario: Scenario) -> list[Problem]:
    """Every cross-check that fails, as (location, message), in file order."""
    return [
        *_signals(scenario),
        *_exhibits(scenario),
        *_visits(scenario),
        *_depot(scenario),
        *_faults(scenario),
        *_reachable(scenario),
    ]


def debounce_by_kind() -> dict[str, tuple[float, float]]:
    """The simulated agents' (press, release) debounce per input kind: the agent's defaults."""
    return {str(kind): times for kind, times in DEFAULT_DEBOUNCE_S.items()}


def _signals(scenario: Scenario) -> Iterator[Problem]:
    for where, message in scenario.signals.problems(debounce_by_kind()):
        yield ("signals", *where.split(".")), message


def _exhibits(scenario: Scenario) -> Iterator[Problem]:
    if scenario.end <= scenario.start:
        yield ("end",), "the scenario must end after it starts"
    seen: Counter[str] = Counter()
    for index, exhibit in enumerate(scenario.exhibits):
        for exhibit_id in exhibit.ids:
            try:
                validate_exhibit_id(exhibit_id)
            except TopicError as exc:
                yield ("exhibits", index, "id"), str(exc)
            seen[exhibit_id] += 1
            if seen[exhibit_id] == 2:
                yield ("exhibits", index, "id"), f"exhibit {exhibit_id!r} is defined twice"
        name = exhibit.visitors
        if isinstance(name, str) and name not in scenario.visitors:
            profiles = ", ".join(sorted(scenario.visitors)) or "none defined"
            yield ("exhibits", index, "visitors"), f"no visitor profile {name!r} ({profiles})"
        profile = scenario.profile(exhibit)
        if profile and profile.inputs and not set(profile.inputs) & set(exhibit.count_names()):
            yield (
                ("exhibits", index, "visitors"),
                f"its visitors use {sorted(profile.inputs)}, none of them a count name of "
                f"{exhibit.id} ({exhibit.count_names()})",
            )
    for name, profile in scenario.visitors.items():
        users = [e for e in scenario.exhibits if scenario.profile(e) is profile]
        known = {count for e in users for count in e.count_names()}
        unknown = sorted(set(profile.inputs or ()) - known) if users else []
        if unknown:
            yield ("visitors", name, "inputs"), f"no exhibit of these visitors counts {unknown}"


def _visits(scenario: Scenario) -> Iterator[Problem]:
    schools = {school.key for school in scenario.schools}
    if len(schools) != len(scenario.schools):
        yield ("schools",), "school keys must be distinct"
    keys = [visit.key for visit in scenario.visits if visit.key]
    if len(keys) != len(set(keys)):
        yield ("visits",), "visit keys must be distinct"
    exhibits = scenario.exhibit_defs()
    taken: dict[str, list[tuple[Window, int]]] = {}
    for index, visit in enumerate(scenario.visits):
        if visit.school not in schools:
            yield ("visits", index, "school"), f"no school with key {visit.school!r}"
        for exhibit_id in visit.exhibits:
            if exhibit_id not in exhibits:
                yield ("visits", index, "exhibits"), f"no exhibit {exhibit_id!r}"
        if len(set(visit.exhibits)) != len(visit.exhibits):
            yield ("visits", index, "exhibits"), "an exhibit is listed twice"
        lead = scenario.checkout_lead if visit.checkout else timedelta(0)
        busy = Window(visit.starts_at - lead, visit.ends_at + lead, scenario.visit_name(index))
        if busy.start < scenario.start or busy.end > scenario.end:
            yield (
                ("visits", index, "days"),
                f"{busy.what} (with its check-out and check-in) runs from "
                f"{busy.start.isoformat()} to {busy.end.isoformat()}, outside the scenario",
            )
        for exhibit_id in visit.exhibits:
            for other, _other_index in taken.get(exhibit_id, []):
                if busy.start < other.end and other.start < busy.end:
                    yield (
                        ("visits", index, "exhibits"),
                        f"{exhibit_id} is in {other.what} and {busy.what} at overlapping "
                        "times (check-out and check-in included)",
                    )
            taken.setdefault(exhibit_id, []).append((busy, index))


def _depot(scenario: Scenario) -> Iterator[Problem]:
    moments = list(checkout_moments(scenario))
    for index, check in enumerate(scenario.depot_checks):
        loc = ("depot_checks", index)
        if not scenario.start <= check.at < scenario.end:
            yield (*loc, "at"), "outside the scenario"
        for exhibit_id in targets(check.exhibits, scenario):
            if exhibit_id not in scenario.exhibit_defs():
                yield (*loc, "exhibits"), f"no exhibit {exhibit_id!r}"
                continue
            for window in power_off(scenario, exhibit_id):
                if window.holds(check.at):
                    yield (*loc, "at"), f"{exhibit_id} has no power then ({window.what})"
            for visit_index, held in checked_out(moments, exhibit_id):
                if held.holds(check.at):
                    name = scenario.visit_name(visit_index)
                    yield (*loc, "at"), f"{exhibit_id} is checked out to {name} then"


def checked_out(
    moments: list[tuple[int, str, datetime, str]], exhibit_id: str
) -> Iterator[tuple[int, Window]]:
    """(visit index, window) in which ``exhibit_id`` is checked out, from ``checkout_moments``."""
    starts = {i: at for i, e, at, what in moments if e == exhibit_id and what == "check-out"}
    for i, e, at, what in moments:
        if e == exhibit_id and what == "check-in":
            yield i, Window(starts[i], at, "checked out")


def _faults(scenario: Scenario) -> Iterator[Problem]:
    exhibits = scenario.exhibit_defs()
    downs: dict[str, list[Window]] = {"broker": [], "api": []}
    for index, fault in enumerate(scenario.faults):
        loc = ("faults", index)
        if not (scenario.start <= fault.at and span_end(fault) <= scenario.end):
            yield (*loc, "at"), "the fault (and its duration) must lie inside the scenario"
        named = [fault.exhibit] if isinstance(fault, ONE_EXHIBIT) else []
        if isinstance(fault, Partition | DuplicateDelivery):
            named = [e for e in fault.exhibits if e != ALL]
        for exhibit_id in named:
            if exhibit_id not in exhibits:
                yield (*loc, "exhibit"), f"no exhibit {exhibit_id!r}"
        if isinstance(fault, ONE_EXHIBIT):
            yield from _one_exhibit(scenario, index, fault)
        sides: list[tuple[str, Window | None]] = []
        if isinstance(fault, BrokerRestart | ApiRestart):
            side = "broker" if isinstance(fault, BrokerRestart) else "api"
            sides.append((side, Window(fault.at, fault.at + fault.duration, "restart")))
        else:
            broker, api = server_down(fault)
            sides += [("broker", broker), ("api", api)]
        if isinstance(fault, DatabaseRestore) and not scenario.start < fault.backup_at < fault.at:
            yield (*loc, "backup_at"), "the backup is taken in the scenario, before the restore"
        for side, down in sides:
            if down is None:
                continue
            if any(w.start <= down.end and down.start <= w.end for w in downs[side]):
                yield (*loc, "at"), f"two {side} restarts overlap"
            downs[side].append(down)
    for index, fault in enumerate(scenario.faults):
        if not isinstance(fault, DuplicateDelivery):
            continue
        if any(w.holds(fault.at) for w in downs["broker"]):
            yield ("faults", index, "at"), "the broker is down then: nothing can be re-published"
        if any(w.holds(fault.at) for w in downs["api"]):
            yield ("faults", index, "at"), "the fleet API is down then: its counters cannot tell"
    for exhibit_id in exhibits:
        windows = sorted(power_off(scenario, exhibit_id), key=lambda w: w.start)
        for first, second in itertools.pairwise(windows):
            if second.start <= first.end:
                yield ("faults",), f"two power cuts of {exhibit_id} overlap"


def _one_exhibit(scenario: Scenario, index: int, fault: ONE_EXHIBIT) -> Iterator[Problem]:
    """Checks of a fault done to one exhibit: it has power when it must, syncs after boots."""
    loc = ("faults", index)
    if isinstance(fault, ClockBehind) and not fault.behind:
        yield (*loc, "behind"), "give how far behind the clock is, e.g. 1d"
    if isinstance(fault, ClockAhead) and not fault.ahead:
        yield (*loc, "ahead"), "give how far ahead the clock is, e.g. 3h"
    if isinstance(fault, ClockJump) and not fault.by:
        yield (*loc, "by"), "give how far the clock jumps, e.g. -2h or +3h"
    if isinstance(fault, RebootChain):
        for number, chained in enumerate(fault.boots[1:], start=1):
            if not chained.after:
                message = "a later boot comes some time after the last"
                yield (*loc, "boots", number, "after"), message
    own = power_off(scenario, fault.exhibit)
    powered: list[tuple[datetime, str]] = []
    if isinstance(fault, ClonedIdentity | ClockJump):
        powered.append((fault.at, "at"))
    for boot in boots(fault):
        if not boot.hard:
            powered.append((boot.down, "at"))
    sync_at = getattr(fault, "sync_at", None)
    if isinstance(sync_at, datetime):
        up = max([boot.up for boot in boots(fault)], default=fault.at)
        if sync_at <= up:
            yield (*loc, "sync_at"), "the clock can sync only after the exhibit is up again"
        powered.append((sync_at, "sync_at"))
    for moment, field in powered:
        if any(w.holds(moment) for w in own):
            yield (*loc, field), f"{fault.exhibit} has no power then"


def _reachable(scenario: Scenario) -> Iterator[Problem]:
    down = fleet_down(scenario)
    for index, exhibit_id, at, what in checkout_moments(scenario):
        for window in down:
            if window.holds(at):
                yield (
                    ("visits", index, "checkout"),
                    f"the {what} of {exhibit_id} for {scenario.visit_name(index)} at "
                    f"{at.isoformat()} falls in {window.what}: staff could not make it; "
                    "move the fault or set checkout: false",
                )
