"""Health readings for the heartbeat: each one is None where this machine cannot tell.

All of them are cheap file reads (sysfs/procfs) done by the agent's worker thread; none
is ever invented. On a Raspberry Pi the firmware reports under-voltage and throttling
through ``get_throttled`` (bit 0: under-voltage now, bit 2: throttled now).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
THROTTLED = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
MEMINFO = Path("/proc/meminfo")
WIRELESS = Path("/proc/net/wireless")
_UNDER_VOLTAGE_NOW = 0x1
_THROTTLED_NOW = 0x4


@dataclass(frozen=True, slots=True)
class Health:
    """One set of readings; fields mirror ``broker.messages.Heartbeat``."""

    cpu_temp_c: float | None = None
    under_voltage: bool | None = None
    throttled: bool | None = None
    disk_free_bytes: int | None = None
    mem_available_bytes: int | None = None
    wifi_signal_dbm: float | None = None


class HealthProbe:
    """Reads health from the usual places; paths are injectable for tests."""

    def __init__(
        self,
        data_dir: Path,
        *,
        thermal: Path = THERMAL,
        throttled: Path = THROTTLED,
        meminfo: Path = MEMINFO,
        wireless: Path = WIRELESS,
    ) -> None:
        self.data_dir = data_dir
        self.thermal = thermal
        self.throttled = throttled
        self.meminfo = meminfo
        self.wireless = wireless

    def sample(self) -> Health:
        """Take every reading that is available right now."""
        flags = self._throttle_flags()
        return Health(
            cpu_temp_c=self._cpu_temp(),
            under_voltage=None if flags is None else bool(flags & _UNDER_VOLTAGE_NOW),
            throttled=None if flags is None else bool(flags & _THROTTLED_NOW),
            disk_free_bytes=self._disk_free(),
            mem_available_bytes=self._mem_available(),
            wifi_signal_dbm=self._wifi_signal(),
        )

    def _cpu_temp(self) -> float | None:
        text = _read(self.thermal)
        try:
            return None if text is None else int(text) / 1000.0
        except ValueError:
            return None

    def _throttle_flags(self) -> int | None:
        text = _read(self.throttled)
        try:
            return None if text is None else int(text, 16)
        except ValueError:
            return None

    def _disk_free(self) -> int | None:
        try:
            return shutil.disk_usage(self.data_dir).free
        except OSError:
            return None

    def _mem_available(self) -> int | None:
        text = _read(self.meminfo)
        for line in (text or "").splitlines():
            key, _, value = line.partition(":")
            if key == "MemAvailable":
                parts = value.split()
                if parts and parts[0].isdigit():
                    return int(parts[0]) * 1024
        return None

    def _wifi_signal(self) -> float | None:
        text = _read(self.wireless)
        for line in (text or "").splitlines()[2:]:
            fields = line.split()
            if len(fields) >= 4:
                try:
                    return float(fields[3].rstrip("."))
                except ValueError:
                    return None
        return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
