"""A synced time from the future is never a boot's clock reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet_api.attribution import ClockReference
from fleet_api.store.clocks import FUTURE_TOLERANCE, Candidate

ARRIVED = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def candidate(wall: datetime) -> Candidate:
    return Candidate(ClockReference(wall, 100.0), "record", ARRIVED)


def test_a_time_before_arrival_or_within_the_skew_is_plausible() -> None:
    assert candidate(ARRIVED - timedelta(days=7)).plausible  # a week-old backlog
    assert candidate(ARRIVED + FUTURE_TOLERANCE).plausible


def test_a_time_after_arrival_beyond_the_skew_is_not() -> None:
    assert not candidate(ARRIVED + FUTURE_TOLERANCE + timedelta(seconds=1)).plausible
    assert not candidate(ARRIVED + timedelta(days=365)).plausible
