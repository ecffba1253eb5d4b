"""The campaign's nemesis and checker, without processes: generated scenarios are valid and
repeat from their seed; the checker tells unplaced from silently misattributed; sessions
from the ledger."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.campaign import FAULT_WEIGHTS, SERVER_WEIGHTS, generate
from simulator.campaign_run import SeedResult, markdown_table, session_splits
from simulator.invariants import (
    SessionRange,
    Touch,
    check_sessions,
    expected_sessions,
    judge_counts,
    reported_on_candidates,
    unplaced_capacity,
)
from simulator.ledger import Key
from simulator.plan import build_plan
from simulator.reconcile import reconcile
from simulator.scenario_files import load_scenario

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_every_seed_gives_a_valid_scenario_that_repeats(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    raw = generate(seed)
    assert raw == generate(seed)
    path = tmp_path_factory.mktemp("seed") / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    scenario = load_scenario(path)  # the file checks: a generated scenario is never refused
    assert scenario.timezone == "Europe/Riga"
    assert scenario.visits
    assert scenario.faults


def test_the_nemesis_draws_every_fault_kind_and_both_partitions() -> None:
    kinds: Counter[str] = Counter()
    hows: set[str] = set()
    offsets: set[bool] = set()
    for seed in range(1, 120):
        for fault in generate(seed)["faults"]:
            kinds[fault["kind"]] += 1
            hows.add(fault.get("how", ""))
            for boot in fault.get("boots", []):
                offsets.add(boot["offset"].startswith("-"))
    assert set(kinds) == set(FAULT_WEIGHTS) | set(SERVER_WEIGHTS)
    assert {"cut", "black_hole"} <= hows
    assert offsets == {True, False}, "reboot chains with clocks behind and ahead"
    assert generate(1) != generate(2)


def _verdict(expected: Counter[Key], by_visit: Counter[Key], unassigned: int) -> object:
    totals = {"e1": (sum(by_visit.values()), unassigned)}
    return reconcile(expected, Counter(), by_visit, totals)


def test_an_unplaced_interaction_that_names_its_visit_is_not_misattributed() -> None:
    expected: Counter[Key] = Counter({(7, "e1", "button"): 10, (9, "e1", "button"): 5})
    by_visit: Counter[Key] = Counter({(7, "e1", "button"): 6, (9, "e1", "button"): 5})
    verdict = _verdict(expected, by_visit, unassigned=4)
    record = {
        "exhibit_id": "e1",
        "kind": "count",
        "input": "button",
        "interactions": 4,
        "candidate_visit_ids": [7, 9],
        "outside_visits_possible": False,
        "assigned_visit_id": None,
    }
    capacity, total = unplaced_capacity([record])
    found = judge_counts(verdict, capacity, total)  # type: ignore[arg-type]
    assert (found.lost, found.duplicated, found.misattributed, found.unplaced) == (0, 0, 0, 4)
    # The same records, but the fleet did not name their true visit: silently wrong.
    capacity, total = unplaced_capacity([{**record, "candidate_visit_ids": [9]}])
    found = judge_counts(verdict, capacity, total)  # type: ignore[arg-type]
    assert found.misattributed == 4
    # Sessions carry interactions counted already; an assigned record is placed.
    assert unplaced_capacity([{**record, "kind": "session"}])[1] == Counter()
    assert unplaced_capacity([{**record, "assigned_visit_id": 7}])[1] == Counter()


@given(
    st.lists(st.tuples(st.sampled_from([1, 2, None]), st.integers(0, 9)), max_size=6),
    st.lists(st.tuples(st.sampled_from([1, 2]), st.integers(0, 9)), max_size=6),
    st.integers(0, 9),
)
def test_without_unplaced_records_the_checker_agrees_with_reconcile(
    truth: list[tuple[int | None, int]], counted: list[tuple[int, int]], unassigned: int
) -> None:
    expected: Counter[Key] = Counter()
    for visit, n in truth:
        expected[(visit, "e1", "button")] += n
    by_visit: Counter[Key] = Counter()
    for visit, n in counted:
        by_visit[(visit, "e1", "button")] += n
    verdict = reconcile(expected, Counter(), by_visit, {"e1": (sum(by_visit.values()), unassigned)})
    found = judge_counts(verdict, Counter(), Counter())
    assert (found.lost, found.duplicated, found.misattributed) == (
        verdict.lost,
        verdict.duplicated,
        verdict.misattributed,
    )


def test_a_visit_with_unplaced_candidates_must_say_so() -> None:
    capacity: Counter[Key] = Counter({(7, "e1", "button"): 4})
    final = {"exhibits": [{"exhibit_id": "e1", "completeness": {"status": "final"}}]}
    told = {
        "exhibits": [
            {
                "exhibit_id": "e1",
                "completeness": {"status": "unplaced", "unplaced_interactions": 4},
            }
        ]
    }
    assert reported_on_candidates({7: told}, capacity, fleet_has_unplaced=True) == []
    (problem,) = reported_on_candidates({7: final}, capacity, fleet_has_unplaced=True)
    assert "visit 7 e1: 4 unplaced interactions may be its own, the visit reports None" in problem


def _touch(seconds: float, visit: int | None = 7, at_risk: bool = False) -> Touch:
    return Touch("e1", "button", T0 + timedelta(seconds=seconds), visit, at_risk)


def test_sessions_from_the_ledger_split_at_idle_time_boots_and_visits() -> None:
    touches = [_touch(0), _touch(10), _touch(25), _touch(60), _touch(70), _touch(75, at_risk=True)]
    touches += [_touch(300), _touch(310), _touch(320, visit=None)]
    assert expected_sessions(touches, 30.0, {}) == {
        (7, "e1"): SessionRange(3, 3, 25.0 + 10.0 + 10.0),
        (None, "e1"): SessionRange(1, 1, 0.0),
    }
    split = {"e1": [T0 + timedelta(seconds=15)]}
    assert expected_sessions(touches, 30.0, split)[(7, "e1")] == SessionRange(4, 4, 30.0)
    # A gap of 30.3 s the ledger splits may be 29.9 s to the agent: one session or two.
    doubt = [_touch(0), _touch(30.3), _touch(200)]
    assert expected_sessions(doubt, 30.0, {})[(7, "e1")] == SessionRange(2, 3, 0.0)
    usage = {
        7: {
            "exhibits": [
                {"exhibit_id": "e1", "sessions": 3, "in_use_s": 45.4, "in_use_basis": "sessions"}
            ]
        }
    }
    expected = expected_sessions(touches, 30.0, {})
    assert check_sessions(expected, usage, set()) == []
    usage[7]["exhibits"][0]["in_use_s"] = 60.0
    assert check_sessions(expected, usage, set()) == [
        "visit 7 e1: in use 60.0 s, the ledger's sessions last 45.0 s"
    ]
    assert check_sessions(expected, usage, {(7, "e1")}) == []


def test_a_check_out_in_a_partition_ends_a_session_when_it_arrives() -> None:
    path = Path(__file__).resolve().parents[2] / "simulator" / "scenarios" / "clocks-both-ways.yaml"
    scenario = load_scenario(path)
    splits = session_splits(scenario)
    # lamp's check-in at 15:00 Riga (13:00 UTC) arrives when its partition heals, 15:20.
    assert datetime(2026, 3, 2, 13, 20, tzinfo=UTC) in splits["lamp"]
    # dial's check-out at 08:00 arrives when the black hole heals at 09:10.
    assert datetime(2026, 3, 2, 7, 10, tzinfo=UTC) in splits["dial"]
    # crank's power cut ends its session.
    assert datetime(2026, 3, 2, 9, 0, tzinfo=UTC) in splits["crank"]


def test_a_failing_seed_names_its_replay_command_in_the_table() -> None:
    failing = SeedResult(17, "postgresql", faults=3, kinds="partition 3", interactions=12)
    failing.findings.misattributed = 2
    text = markdown_table([failing, SeedResult(18, "sqlite")])
    assert "| 17 | postgresql | 3 | partition 3 | 12 | 0 | 0 | 2 | 0 |" in text
    assert "FAIL: `exhibit-sim campaign --seed 17 --database postgresql`" in text
    assert text.rstrip().endswith("| ok |")


def test_the_nemesis_gives_controllers_pushes_and_attract_checks() -> None:
    forced: set[bool] = set()
    states: Counter[str] = Counter()
    controlled = 0
    for seed in range(1, 40):
        raw = generate(seed)
        controlled += sum("controller" in exhibit for exhibit in raw["exhibits"])
        forced |= {push["force"] for push in raw.get("configs", [])}
        states.update(check["outputs"]["sign"] for check in raw.get("output_checks", []))
    assert controlled > 40
    assert forced == {True, False}, "pushes that wait for the visit and forced ones"
    assert states["blink"] > 20
    assert states["safe"] > 10


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_attract_checks_lie_where_the_plan_makes_them_certain(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    """Recomputed from the plan: a blink check comes at least ``idle_s`` after the
    exhibit's last touch before it and before its next; a safe check a moment after one."""
    raw = generate(seed)
    path = tmp_path_factory.mktemp("seed") / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    scenario = load_scenario(path)
    plan = build_plan(scenario)
    for check in scenario.output_checks:
        (exhibit_id,) = check.exhibits
        controller = scenario.exhibit_defs()[exhibit_id].controller
        assert controller is not None
        assert controller.attract is not None
        idle = timedelta(seconds=controller.attract["idle_s"])
        touches = [t.at for t in plan.touches if t.exhibit_id == exhibit_id]
        before = max((at for at in touches if at <= check.at), default=scenario.start)
        if check.outputs["sign"] == "blink":
            assert check.at - before >= idle
            assert not [at for at in touches if check.at < at < check.at + timedelta(seconds=1)]
        else:
            assert check.outputs == {"sign": "safe"}
            second, two = timedelta(seconds=1), timedelta(seconds=2)
            assert any(second <= check.at - at <= two for at in touches)
