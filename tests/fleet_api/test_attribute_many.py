"""Attributing a run of records at once gives what attributing each record gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_api.attribution import (
    TimeBasis,
    VisitIndex,
    VisitWindow,
    attribute,
    attribute_many,
)

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
EXHIBITS = ("exhibit-001", "exhibit-002")
# Minutes around T0, with some window edges among them so that they are hit exactly.
GRACE = 360
minutes = st.integers(-3 * GRACE, 3 * GRACE) | st.sampled_from([-GRACE, GRACE, 0, 60, 480])


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


@st.composite
def windows(draw: st.DrawFn, visit_id: int) -> VisitWindow:
    start = draw(minutes)
    length = draw(st.integers(1, 2 * GRACE))
    members = draw(st.sets(st.sampled_from(EXHIBITS), max_size=2))
    return VisitWindow(visit_id, at(start), at(start + length), frozenset(members))


@st.composite
def indexes(draw: st.DrawFn) -> VisitIndex:
    # Windows may overlap here, which the store never allows: the equality holds anyway.
    count = draw(st.integers(0, 5))
    return VisitIndex([draw(windows(visit_id)) for visit_id in range(1, count + 1)])


@settings(max_examples=1000, deadline=None)
@given(
    index=indexes(),
    exhibit_id=st.sampled_from(EXHIBITS),
    tag=st.none() | st.integers(1, 7),
    times=st.lists(minutes.map(at), max_size=12),
    basis=st.sampled_from(list(TimeBasis)),
)
def test_a_run_is_attributed_like_each_of_its_records(
    index: VisitIndex,
    exhibit_id: str,
    tag: int | None,
    times: list[datetime],
    basis: TimeBasis,
) -> None:
    one_by_one = [
        attribute(index, exhibit_id=exhibit_id, tag=tag, at=moment, basis=basis) for moment in times
    ]

    assert (
        attribute_many(index, exhibit_id=exhibit_id, tag=tag, times=times, basis=basis)
        == one_by_one
    )


def test_a_run_inside_one_visit_takes_it_and_one_across_its_end_splits() -> None:
    index = VisitIndex([VisitWindow(1, at(0), at(60), frozenset({"exhibit-001"}))])

    inside = attribute_many(
        index,
        exhibit_id="exhibit-001",
        tag=None,
        times=[at(0), at(30), at(59)],
        basis=TimeBasis.SYNCED,
    )
    across = attribute_many(
        index, exhibit_id="exhibit-001", tag=None, times=[at(59), at(60)], basis=TimeBasis.SYNCED
    )

    assert inside == [1, 1, 1]
    assert across == [1, None]


def test_a_tag_holds_a_trusted_time_only_inside_its_window() -> None:
    index = VisitIndex([VisitWindow(1, at(0), at(60), frozenset({"exhibit-001"}))])
    times = [at(-1), at(0), at(59), at(60)]

    tagged = attribute_many(
        index, exhibit_id="exhibit-001", tag=1, times=times, basis=TimeBasis.SYNCED
    )

    assert tagged == [None, 1, 1, None]
    assert tagged == [
        attribute(index, exhibit_id="exhibit-001", tag=1, at=moment, basis=TimeBasis.SYNCED)
        for moment in times
    ]
