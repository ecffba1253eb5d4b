"""The plan of a scenario: seeded touches inside their visits, none while unpowered, and a
timeline in the order the engine must act."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

from simulator.plan import MIN_GAP, build_plan, true_visit
from simulator.scenario_checks import power_off
from simulator.scenario_faults import PowerCut
from simulator.scenario_files import load_scenario


def test_a_plan_is_a_pure_function_of_the_scenario() -> None:
    scenario = load_scenario("offline-day")
    assert build_plan(scenario) == build_plan(scenario)
    other = build_plan(scenario.model_copy(update={"seed": scenario.seed + 1}))
    assert other.touches != build_plan(scenario).touches


def test_touches_are_spaced_inside_their_visit_a_bucket_from_its_edges() -> None:
    scenario = load_scenario("normal-week")
    plan = build_plan(scenario)
    bucket = timedelta(seconds=scenario.agent.bucket_seconds)
    by_exhibit = itertools.groupby(
        sorted(plan.touches, key=lambda t: (t.exhibit_id, t.at)), key=lambda t: t.exhibit_id
    )
    for _exhibit, group in by_exhibit:
        own = list(group)
        assert all(b.at - a.at >= MIN_GAP for a, b in itertools.pairwise(own))
    for touch in plan.touches:
        assert touch.visit == true_visit(scenario, touch.exhibit_id, touch.at)
        if touch.visit is None:
            continue  # a check at the depot
        visit = scenario.visits[touch.visit]
        day_start, day_end = visit.hours.on(touch.at.date())
        assert day_start + bucket <= touch.at < day_end
        assert touch.input in scenario.exhibit_defs()[touch.exhibit_id].count_names()


def test_depot_checks_belong_to_no_visit() -> None:
    scenario = load_scenario("normal-week")
    depot = [t for t in build_plan(scenario).touches if t.visit is None]
    expected = sum(
        check.touches * (5 if check.exhibits == ["all"] else len(check.exhibits))
        for check in scenario.depot_checks
    )
    assert len(depot) == expected


def test_nobody_touches_an_exhibit_without_power() -> None:
    scenario = load_scenario("offline-day")
    plan = build_plan(scenario)
    cuts = [f for f in scenario.faults if isinstance(f, PowerCut)]
    assert cuts
    for cut in cuts:
        (window,) = power_off(scenario, cut.exhibit)
        own = [t for t in plan.touches if t.exhibit_id == cut.exhibit]
        assert not [t for t in own if window.start - MIN_GAP <= t.at <= window.end + MIN_GAP]
        assert [t for t in own if t.at < window.start]
        assert [t for t in own if t.at > window.end]


def test_the_timeline_orders_faults_and_visits() -> None:
    plan = build_plan(load_scenario("offline-day"))
    actions = [(e.at.strftime("%d %H:%M"), e.action) for e in plan.events]
    assert actions == [
        ("02 07:30", "checkout"),
        ("02 14:30", "checkin"),
        ("03 07:00", "reboot"),
        ("03 08:30", "checkout"),
        ("03 08:35", "partition_cut"),
        ("03 10:00", "power_cut"),
        ("03 10:10", "power_on"),
        ("03 11:00", "power_cut"),
        ("03 11:20", "power_on"),
        # Same instant: file order. prism gets NTP before its backlog goes out.
        ("03 14:20", "clock_sync"),
        ("03 14:20", "partition_restore"),
        ("03 14:25", "clock_sync"),
        ("03 14:30", "checkin"),
    ]


def test_a_fault_of_zero_length_stops_before_it_starts_again() -> None:
    plan = build_plan(load_scenario("broker-restart-replay"))
    actions = [e.action for e in plan.events if e.action.startswith(("broker", "partition"))]
    assert actions == ["partition_cut", "partition_restore", "broker_stop", "broker_start"]


def test_visitor_numbers_follow_the_profile() -> None:
    scenario = load_scenario("backlog-50")
    plan = build_plan(scenario)
    profile = scenario.visitors["week"]
    low, high = profile.interactions_per_session
    per_day = sum(profile.arrivals_per_hour) * (low + high) / 2
    expected = per_day * 5 * 50  # five days, fifty exhibits
    visits = [t for t in plan.touches if t.visit is not None]
    assert 0.85 * expected < len(visits) < 1.1 * expected


def test_a_reboot_chain_and_a_clock_jump_are_timeline_events(tmp_path: Path) -> None:
    text = """\
name: chain
start: 2026-03-02T06:00:00Z
end: 2026-03-04T18:00:00Z
exhibits: [{id: e1, visitors: null}, {id: e2, visitors: null}]
faults:
  - {kind: reboot_chain, exhibit: e1, at: 2026-03-02T10:40:00Z, sync_at: 2026-03-03T09:00:00Z,
     boots: [{offset: -26h, for: 5m, }, {after: 20h, offset: +3h, power_cut: false}]}
  - {kind: clock_jump, exhibit: e2, at: 2026-03-02T11:00:00Z, by: +2h,
     sync_at: 2026-03-02T12:00:00Z}
  - {kind: clock_ahead, exhibit: e2, at: 2026-03-03T08:00:00Z, ahead: 1d}
"""
    path = tmp_path / "chain.yaml"
    path.write_text(text)
    scenario = load_scenario(path)
    events = [
        (e.at.strftime("%d %H:%M"), e.action, e.exhibits, e.offset)
        for e in build_plan(scenario).events
    ]
    hour = timedelta(hours=1)
    assert events == [
        ("02 10:40", "power_cut", ("e1",), timedelta(0)),
        ("02 10:45", "power_on", ("e1",), -26 * hour),
        ("02 11:00", "clock_jump", ("e2",), 2 * hour),
        ("02 12:00", "clock_sync", ("e2",), timedelta(0)),
        ("03 06:45", "reboot", ("e1",), 3 * hour),
        ("03 08:00", "reboot", ("e2",), 24 * hour),
        ("03 09:00", "clock_sync", ("e1",), timedelta(0)),
    ]
    assert [
        (w.start.strftime("%d %H:%M"), w.end.strftime("%H:%M")) for w in power_off(scenario, "e1")
    ] == [("02 10:40", "10:45")]
