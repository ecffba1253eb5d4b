"""Bounds from order (fleet_api.bounds): generated exhibit histories, clocks wrong both ways.

A history is drawn in true time the way the agent makes it (``device/outbox/store.py``,
``device/outbox/sessions.py``): count buckets sealed when they end, sessions sealed once idle,
seqs given in sealing order; power cuts split it into boots, each with its own clock
error (hours or days, either way) and synced or not. The property: the bounds of every
record of a never-synced boot hold its true start, and :func:`decide` never places a
record in a visit other than its true one when tags are true or absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_api.attribution import VisitIndex, VisitWindow
from fleet_api.bounds import Bounds, Neighbour, Unsure, boot_bounds, candidates, decide

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
EXHIBIT = "exhibit-001"


@dataclass(frozen=True)
class Made:
    """A record as made: its true start, span, seal time, boot, kind."""

    start: datetime
    span_s: float
    sealed: datetime
    boot: int
    session: bool


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Made], dict[int, bool]]:
    """Records in seq order (sealing order) and which boots had a synced clock."""
    made: list[Made] = []
    now = T0
    boots = draw(st.integers(1, 5))
    synced: dict[int, bool] = {}
    for boot in range(boots):
        synced[boot] = draw(st.booleans())
        for _ in range(draw(st.integers(1, 12))):
            # Mostly seconds apart (buckets of several inputs, sessions sealed while later
            # buckets run), sometimes hours.
            now += timedelta(
                seconds=draw(st.integers(0, 900) | st.integers(0, 24_000) | st.just(0))
            )
            if draw(st.integers(0, 4)) == 0:
                dwell = draw(st.integers(0, 1800))
                idle = draw(st.integers(1, 3600))
                made.append(
                    Made(now, dwell, now + timedelta(seconds=dwell + idle), boot, session=True)
                )
            else:
                latency = draw(st.integers(0, 60))
                made.append(
                    Made(now, 60.0, now + timedelta(seconds=60 + latency), boot, session=False)
                )
        now += timedelta(minutes=draw(st.integers(1, 3000)))  # powered off
    made.sort(key=lambda m: m.sealed)
    return made, synced


def unsure_records(
    made: list[Made], synced: dict[int, bool], delays: list[int]
) -> tuple[list[Unsure], dict[tuple[str, int], Made]]:
    boot_start = {b: min(m.start for m in made if m.boot == b) for b in synced}
    trusted = [(seq, m) for seq, m in enumerate(made, 1) if synced[m.boot] and not m.session]
    unsure, truth = [], {}
    for seq, m in enumerate(made, 1):
        if synced[m.boot]:
            continue
        before = [t for s, t in trusted if s < seq]
        after = [t for s, t in trusted if s > seq]
        key = ("r", seq)
        unsure.append(
            Unsure(
                key=key,
                boot_id=str(m.boot),
                mono_start=(m.start - boot_start[m.boot]).total_seconds() + 7.0,
                span_s=m.span_s,
                session=m.session,
                received_at=m.sealed + timedelta(minutes=delays[seq % len(delays)]),
                before=Neighbour(before[-1].start, before[-1].span_s) if before else None,
                after=Neighbour(after[0].start, after[0].span_s) if after else None,
            )
        )
        truth[key] = m
    return unsure, truth


@settings(max_examples=500, deadline=None)
@given(history=histories(), delays=st.lists(st.integers(0, 5000), min_size=1, max_size=5))
def test_the_bounds_of_every_record_hold_its_true_time(
    history: tuple[list[Made], dict[int, bool]], delays: list[int]
) -> None:
    made, synced = history
    unsure, truth = unsure_records(made, synced, delays)

    for key, found in boot_bounds(unsure).items():
        true = truth[key].start
        assert found.earliest is None or found.earliest <= true, (key, found, true)
        assert found.latest is None or true <= found.latest, (key, found, true)


@st.composite
def visit_plans(draw: st.DrawFn) -> list[VisitWindow]:
    """Non-overlapping visit windows of the exhibit over the history's days."""
    windows, start = [], T0 - timedelta(hours=draw(st.integers(0, 48)))
    for visit_id in range(1, draw(st.integers(0, 6)) + 1):
        start += timedelta(minutes=draw(st.integers(0, 3000)))
        end = start + timedelta(minutes=draw(st.integers(1, 720)))
        windows.append(VisitWindow(visit_id, start, end, frozenset({EXHIBIT})))
        start = end
    return windows


@settings(max_examples=500, deadline=None)
@given(
    history=histories(),
    delays=st.lists(st.integers(0, 5000), min_size=1, max_size=5),
    plan=visit_plans(),
    tagged=st.booleans(),
)
def test_a_record_is_never_placed_in_a_visit_its_true_time_is_not_in(
    history: tuple[list[Made], dict[int, bool]],
    delays: list[int],
    plan: list[VisitWindow],
    tagged: bool,
) -> None:
    made, synced = history
    unsure, truth = unsure_records(made, synced, delays)
    index = VisitIndex(plan)
    for key, found in boot_bounds(unsure).items():
        true_visit = index.scheduled(EXHIBIT, truth[key].start)
        true_id = None if true_visit is None else true_visit.id
        tag = true_id if tagged else None

        decision = decide(index, exhibit_id=EXHIBIT, tag=tag, bounds=found)

        if decision.unplaced:
            assert decision.visit_id is None
            if true_id is None:
                assert decision.outside_possible
            else:
                assert true_id in decision.candidates
        else:
            assert decision.visit_id == true_id, (key, found, truth[key], decision)


def test_the_issues_tuesday_records_cannot_go_to_monday() -> None:
    # A synced Tuesday record (seq 373) comes before records whose clock says Monday.
    monday = VisitWindow(1, T0, T0 + timedelta(hours=6), frozenset({EXHIBIT}))
    tuesday = VisitWindow(
        2, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=6), frozenset({EXHIBIT})
    )
    index = VisitIndex([monday, tuesday])
    synced_tuesday = Neighbour(T0 + timedelta(days=1, hours=2), 60.0)
    record = Unsure(
        key=("count_records", 387),
        boot_id="boot-3",
        mono_start=600.0,
        span_s=60.0,
        session=False,
        received_at=T0 + timedelta(days=2),
        before=synced_tuesday,
        after=None,
    )
    found = boot_bounds([record])[record.key]

    assert found.earliest is not None
    assert found.earliest > monday.ends_at
    assert decide(index, exhibit_id=EXHIBIT, tag=None, bounds=found).candidates == (2,)
    assert decide(index, exhibit_id=EXHIBIT, tag=None, bounds=found).unplaced
    assert decide(index, exhibit_id=EXHIBIT, tag=2, bounds=found).visit_id == 2
    # A tag its bounds contradict places nothing there.
    assert decide(index, exhibit_id=EXHIBIT, tag=1, bounds=found).visit_id is None


def test_candidates_say_whether_a_time_outside_every_visit_is_possible() -> None:
    first = VisitWindow(1, T0, T0 + timedelta(hours=2), frozenset({EXHIBIT}))
    second = VisitWindow(2, T0 + timedelta(hours=2), T0 + timedelta(hours=4), frozenset({EXHIBIT}))
    index = VisitIndex([first, second])

    inside = Bounds(T0 + timedelta(minutes=30), T0 + timedelta(hours=3))
    across = Bounds(T0 + timedelta(minutes=30), T0 + timedelta(hours=4))
    before = Bounds(None, T0 + timedelta(minutes=1))

    assert candidates(index, EXHIBIT, inside) == ([first, second], False)
    assert candidates(index, EXHIBIT, across) == ([first, second], True)
    assert candidates(index, EXHIBIT, before) == ([first], True)
    assert decide(index, exhibit_id=EXHIBIT, tag=None, bounds=Bounds(T0, T0)).visit_id == 1
