"""SimClock: true time moved by the engine; the Pi's wall clock may be behind until synced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from device.core.clock import Clock
from simulator.simclock import BOOT_MONOTONIC_S, SimClock

T0 = datetime(2026, 3, 3, 11, 20, tzinfo=UTC)


def test_it_is_a_device_clock() -> None:
    clock: Clock = SimClock(true_now=T0, boot_id="b-1")
    assert clock.boot_id() == "b-1"
    assert clock.synced()


def test_wall_and_monotonic_move_together_and_only_forward() -> None:
    clock = SimClock(true_now=T0, boot_id="b-1")
    assert (clock.wall(), clock.monotonic()) == (T0, BOOT_MONOTONIC_S)
    clock.advance_to(T0 + timedelta(days=2, seconds=1.5))
    assert clock.wall() == T0 + timedelta(days=2, seconds=1.5)
    assert clock.monotonic() == BOOT_MONOTONIC_S + 2 * 86_400 + 1.5
    clock.advance_to(clock.true_now)  # standing still is fine
    with pytest.raises(ValueError, match="forward only"):
        clock.advance_to(T0)


def test_a_clock_a_day_behind_syncs_to_true_time_without_a_monotonic_jump() -> None:
    clock = SimClock(true_now=T0, boot_id="b-2", skew=-timedelta(days=1), synced=False)
    assert clock.wall() == T0 - timedelta(days=1)
    assert not clock.synced()
    clock.advance_to(T0 + timedelta(hours=3))
    before = clock.monotonic()
    clock.sync()
    assert clock.synced()
    assert clock.wall() == T0 + timedelta(hours=3)
    assert clock.monotonic() == before
    # What both re-basings rely on: synced wall - monotonic gives the true time of any
    # earlier monotonic instant of the boot.
    offset = clock.wall() - timedelta(seconds=clock.monotonic())
    assert offset + timedelta(seconds=BOOT_MONOTONIC_S) == T0


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(true_now=datetime(2026, 3, 3), boot_id="b")
    with pytest.raises(ValueError, match="no skew"):
        SimClock(true_now=T0, boot_id="b", skew=timedelta(hours=1))


def test_a_jump_moves_the_wall_clock_either_way_and_unsyncs_it() -> None:
    clock = SimClock(true_now=T0, boot_id="b-1")
    mono = clock.monotonic()
    clock.jump(timedelta(hours=3))
    assert clock.wall() == T0 + timedelta(hours=3)
    assert not clock.synced()
    assert clock.monotonic() == mono
    clock.jump(timedelta(hours=-5))
    assert clock.wall() == T0 - timedelta(hours=2)
    clock.advance(60)
    clock.sync()  # NTP steps it forward again (it steps back after a jump ahead)
    assert clock.wall() == T0 + timedelta(seconds=60)
    assert clock.synced()
