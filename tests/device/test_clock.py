"""The clock seam: the system clock's sources, and the fake one tests drive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device.core.clock import FakeClock, SystemClock


def test_system_clock_reads_boot_id_and_sync_marker(tmp_path: Path) -> None:
    boot = tmp_path / "boot_id"
    boot.write_text("0f4e2c1a-1111-2222-3333-444455556666\n")
    marker = tmp_path / "synchronized"
    clock = SystemClock(boot_id_path=boot, sync_marker=marker)
    assert clock.boot_id() == "0f4e2c1a-1111-2222-3333-444455556666"
    marker.touch()
    assert clock.synced() is True
    assert clock.wall().tzinfo is UTC
    first = clock.monotonic()
    assert clock.monotonic() >= first


def test_system_clock_without_marker_asks_the_kernel(tmp_path: Path) -> None:
    clock = SystemClock(boot_id="sim-boot", sync_marker=tmp_path / "absent")
    assert clock.boot_id() == "sim-boot"
    assert isinstance(clock.synced(), bool)  # whatever adjtimex says here is the truth


def test_missing_boot_id_file_gives_a_per_process_id(tmp_path: Path) -> None:
    clock = SystemClock(boot_id_path=tmp_path / "absent")
    assert len(clock.boot_id()) == 36
    assert clock.boot_id() == clock.boot_id()


def test_boot_id_must_fit_the_message_contract() -> None:
    with pytest.raises(ValueError, match="1-64 characters"):
        SystemClock(boot_id="x" * 65)


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(monotonic=5.0, synced=False)
    start = clock.wall()
    clock.advance(2.5)
    assert clock.monotonic() == 7.5
    assert clock.wall() == start + timedelta(seconds=2.5)
    synced_wall = datetime(2027, 1, 1, tzinfo=UTC)
    clock.set_wall(synced_wall, synced=True)
    assert (clock.wall(), clock.synced(), clock.monotonic()) == (synced_wall, True, 7.5)
    clock.reboot("boot-2")
    assert (clock.boot_id(), clock.monotonic()) == ("boot-2", 10.0)
