"""Heartbeat health readings: present where the files say so, absent otherwise."""

from __future__ import annotations

from pathlib import Path

from device.ops.health import Health, HealthProbe

WIRELESS = """Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
 wlan0: 0000   58.  -52.  -256        0      0      0      0      0        0
"""


def test_readings_from_a_pi_like_system(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("48312\n")
    (tmp_path / "throttled").write_text("50005\n")
    (tmp_path / "meminfo").write_text("MemTotal: 948304 kB\nMemAvailable: 512000 kB\n")
    (tmp_path / "wireless").write_text(WIRELESS)
    probe = HealthProbe(
        tmp_path,
        thermal=tmp_path / "temp",
        throttled=tmp_path / "throttled",
        meminfo=tmp_path / "meminfo",
        wireless=tmp_path / "wireless",
    )
    health = probe.sample()
    assert health.cpu_temp_c == 48.312
    assert health.under_voltage is True
    assert health.throttled is True
    assert health.mem_available_bytes == 512000 * 1024
    assert health.wifi_signal_dbm == -52.0
    assert health.disk_free_bytes is not None
    assert health.disk_free_bytes > 0


def test_nothing_is_invented_where_nothing_can_be_read(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("garbage")
    probe = HealthProbe(
        tmp_path / "no-such-dir",
        thermal=tmp_path / "temp",
        throttled=tmp_path / "absent",
        meminfo=tmp_path / "absent",
        wireless=tmp_path / "absent",
    )
    assert probe.sample() == Health()
