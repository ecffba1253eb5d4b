"""The attribution rules as pure functions: corrected time, then tag, then time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fleet_api.attribution import (
    ClockReference,
    Placement,
    TimeBasis,
    VisitIndex,
    VisitWindow,
    attribute,
    correct_time,
    hour_of,
    place,
)

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SYNCED, REBASED, UNSYNCED = TimeBasis.SYNCED, TimeBasis.REBASED, TimeBasis.UNSYNCED


def window(visit_id: int, start_h: float, hours: float, *exhibits: str) -> VisitWindow:
    return VisitWindow(
        visit_id,
        T0 + timedelta(hours=start_h),
        T0 + timedelta(hours=start_h + hours),
        frozenset(exhibits or ("exhibit-001",)),
    )


MORNING = window(1, 0, 2)
AFTERNOON = window(2, 4, 2)
OTHER_EXHIBIT = window(3, 0, 6, "exhibit-002")
INDEX = VisitIndex([MORNING, AFTERNOON, OTHER_EXHIBIT])


def test_a_synced_clock_is_believed_even_when_its_boot_has_a_reference() -> None:
    for reference in (None, ClockReference(T0 - DAY, 0.0)):
        corrected = correct_time(start=T0, mono_start=50.0, clock_synced=True, reference=reference)
        assert (corrected.at, corrected.basis) == (T0, TimeBasis.SYNCED)


def test_an_unsynced_clock_a_day_behind_is_rebased_from_a_synced_moment_of_its_boot() -> None:
    # The Pi booted at a school without network; fake-hwclock restored yesterday's time.
    # 300 s into the boot it believed T0 - 1 day + 300 s. Later in the same boot NTP
    # synced: at monotonic 4000 s the true time was T0 + 4000 s.
    reference = ClockReference(wall=T0 + timedelta(seconds=4000), mono=4000.0)
    corrected = correct_time(
        start=T0 - DAY + timedelta(seconds=300),
        mono_start=300.0,
        clock_synced=False,
        reference=reference,
    )
    assert corrected.at == T0 + timedelta(seconds=300)
    assert corrected.basis is TimeBasis.REBASED


def test_without_a_reference_the_wall_time_is_kept_and_flagged() -> None:
    wrong = T0 - DAY
    corrected = correct_time(start=wrong, mono_start=10.0, clock_synced=False, reference=None)
    assert (corrected.at, corrected.basis) == (wrong, TimeBasis.UNSYNCED)


def test_times_with_any_offset_come_out_utc() -> None:
    oslo = timezone(timedelta(hours=2))
    corrected = correct_time(
        start=datetime(2026, 5, 4, 10, 30, tzinfo=oslo),
        mono_start=0,
        clock_synced=True,
        reference=None,
    )
    assert corrected.at == T0 + timedelta(minutes=30)
    assert corrected.at.tzinfo is UTC
    assert hour_of(datetime(2026, 5, 4, 10, 30, tzinfo=oslo)) == T0


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (T0 - timedelta(microseconds=1), None),  # just before the morning visit
        (T0, 1),  # its first instant belongs to it
        (T0 + timedelta(hours=2) - timedelta(microseconds=1), 1),
        (T0 + timedelta(hours=2), None),  # ends_at itself is out
        (T0 + timedelta(hours=3), None),  # between visits
        (T0 + timedelta(hours=4), 2),
        (T0 + timedelta(hours=5, minutes=59), 2),
        (T0 + timedelta(hours=6), None),
        (T0 - DAY, None),  # a day behind: no visit
    ],
)
def test_an_untagged_record_goes_by_its_time_with_half_open_windows(
    at: datetime, expected: int | None
) -> None:
    assert attribute(INDEX, exhibit_id="exhibit-001", tag=None, at=at, basis=SYNCED) == expected


def test_only_visits_that_took_the_exhibit_count() -> None:
    at = T0 + timedelta(hours=1)
    assert attribute(INDEX, exhibit_id="exhibit-002", tag=None, at=at, basis=SYNCED) == 3
    assert attribute(INDEX, exhibit_id="exhibit-003", tag=None, at=at, basis=SYNCED) is None


def test_a_tag_wins_over_any_unsynced_time() -> None:
    # Tagged with the afternoon visit while the untrustworthy clock says yesterday, the
    # morning or next year: the tag is exactly what an unsynced clock needs.
    for at in (T0 - DAY, T0 + timedelta(minutes=30), T0 + timedelta(days=300)):
        assert attribute(INDEX, exhibit_id="exhibit-001", tag=2, at=at, basis=UNSYNCED) == 2


@pytest.mark.parametrize("basis", [SYNCED, REBASED])
def test_a_tag_never_beats_a_trusted_clock(basis: TimeBasis) -> None:
    # Issue 16: tagged with the afternoon visit (checked out early, or never checked in),
    # a trusted time goes only to the visit whose window holds it, or to none.
    afternoon_start, afternoon_end = T0 + timedelta(hours=4), T0 + timedelta(hours=6)
    assert (
        attribute(
            INDEX, exhibit_id="exhibit-001", tag=2, at=T0 + timedelta(minutes=30), basis=basis
        )
        == 1
    )
    for at in (
        afternoon_start - timedelta(microseconds=1),
        afternoon_end,
        T0 + DAY,
    ):
        assert attribute(INDEX, exhibit_id="exhibit-001", tag=2, at=at, basis=basis) is None
    assert attribute(INDEX, exhibit_id="exhibit-001", tag=2, at=afternoon_start, basis=basis) == 2
    later = T0 + timedelta(hours=5) + DAY
    assert attribute(INDEX, exhibit_id="exhibit-001", tag=1, at=later, basis=basis) is None


def test_a_tag_naming_an_unknown_visit_or_one_without_the_exhibit_falls_back_to_time() -> None:
    in_morning = T0 + timedelta(minutes=30)
    assert attribute(INDEX, exhibit_id="exhibit-001", tag=999, at=in_morning, basis=SYNCED) == 1
    # Visit 3 took exhibit-002 only: a count in the wrong visit is worse than none.
    assert attribute(INDEX, exhibit_id="exhibit-001", tag=3, at=in_morning, basis=SYNCED) == 1
    assert attribute(INDEX, exhibit_id="exhibit-001", tag=3, at=T0 - DAY, basis=UNSYNCED) is None


def test_place_corrects_first_then_attributes() -> None:
    # A day behind and untagged: by its own clock it is in no visit; re-based it is in
    # the afternoon visit.
    reference = ClockReference(wall=T0 + timedelta(hours=4), mono=1000.0)
    arguments = {
        "exhibit_id": "exhibit-001",
        "start": T0 + timedelta(hours=4, minutes=10) - DAY,
        "mono_start": 1600.0,
        "clock_synced": False,
        "tag": None,
    }
    assert place(INDEX, reference=None, **arguments) == Placement(
        T0 + timedelta(hours=4, minutes=10) - DAY, TimeBasis.UNSYNCED, None
    )
    placed = place(INDEX, reference=reference, **arguments)
    assert placed == Placement(T0 + timedelta(hours=4, minutes=10), TimeBasis.REBASED, 2)
    assert placed.hour == T0 + timedelta(hours=4)


def test_the_index_finds_the_right_window_among_many() -> None:
    windows = [window(i + 1, 3 * i, 2) for i in range(200)]
    index = VisitIndex(reversed(windows))
    for i in (0, 57, 199):
        start = T0 + timedelta(hours=3 * i)
        assert index.scheduled("exhibit-001", start) == windows[i]
        assert index.scheduled("exhibit-001", start + timedelta(hours=2)) is None
        assert index.scheduled("exhibit-001", start - timedelta(hours=1)) is None
    assert len(index) == 200
    assert VisitIndex().scheduled("exhibit-001", T0) is None
