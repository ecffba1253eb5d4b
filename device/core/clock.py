"""The agent's view of time: wall time, monotonic time, the boot it runs in, clock sync.

Most Pis have no real-time clock: after a power cut with no network the wall clock
restarts from the last saved time and can be hours or days wrong. The agent therefore
records, next to the wall time, the boot id and the monotonic time within that boot
(which never jumps) and whether the wall clock was synced, so the fleet can re-base.

Everything time-related goes through a ``Clock`` so tests and the simulator can
drive time by hand (``FakeClock``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
TIMESYNC_MARKER = Path("/run/systemd/timesync/synchronized")
_TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised
MAX_BOOT_ID_LENGTH = 64  # what broker.messages accepts
_TIMEX_BUFFER = 512  # larger than struct timex on every Linux ABI


class Clock(Protocol):
    """Where the agent reads time from."""

    def wall(self) -> datetime:
        """Wall-clock time, UTC-aware, as this machine believes it."""
        ...

    def monotonic(self) -> float:
        """Seconds since boot that never jump (CLOCK_MONOTONIC)."""
        ...

    def boot_id(self) -> str:
        """An id that changes on every boot."""
        ...

    def synced(self) -> bool:
        """Whether the wall clock is known to be synchronised (NTP or similar)."""
        ...


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # find_library runs ldconfig (a child process): once per process, never per call.
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def _kernel_says_synced() -> bool | None:
    """adjtimex(2) in read-only mode: True/False, or None where it cannot be asked."""
    libc = _libc()
    if libc is None:
        return None
    try:
        buffer = ctypes.create_string_buffer(_TIMEX_BUFFER)  # modes = 0: change nothing
        state = int(libc.adjtimex(buffer))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


class SystemClock:
    """The machine's clocks; ``boot_id`` may be overridden (e.g. by the simulator)."""

    def __init__(
        self,
        *,
        boot_id: str | None = None,
        boot_id_path: Path = BOOT_ID_PATH,
        sync_marker: Path = TIMESYNC_MARKER,
    ) -> None:
        self._boot_id = boot_id or self._read_boot_id(boot_id_path)
        if not 1 <= len(self._boot_id) <= MAX_BOOT_ID_LENGTH:
            raise ValueError(f"boot id {self._boot_id!r} must be 1-{MAX_BOOT_ID_LENGTH} characters")
        self._sync_marker = sync_marker

    @staticmethod
    def _read_boot_id(path: Path) -> str:
        try:
            return path.read_text().strip() or str(uuid.uuid4())
        except OSError:
            # Not Linux: one id per process is the honest answer (a restart looks like a
            # reboot, so open buckets are sealed rather than merged across processes).
            return str(uuid.uuid4())

    def wall(self) -> datetime:
        """Wall-clock time, UTC-aware."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """CLOCK_MONOTONIC seconds (since boot on Linux)."""
        return time.monotonic()

    def boot_id(self) -> str:
        """The kernel's boot id, or the override."""
        return self._boot_id

    def synced(self) -> bool:
        """True if systemd-timesyncd says so or the kernel's NTP state is synchronised."""
        if self._sync_marker.exists():
            return True
        return bool(_kernel_says_synced())


class FakeClock:
    """A clock moved by hand: ``advance()`` moves wall and monotonic time together."""

    def __init__(
        self,
        *,
        wall: datetime | None = None,
        monotonic: float = 1_000.0,
        boot_id: str = "fake-boot-0001",
        synced: bool = True,
    ) -> None:
        self._lock = threading.Lock()
        self._wall = wall or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self._mono = monotonic
        self._boot_id = boot_id
        self._synced = synced

    def wall(self) -> datetime:
        """The fake wall time."""
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        """The fake monotonic time."""
        with self._lock:
            return self._mono

    def boot_id(self) -> str:
        """The fake boot id."""
        with self._lock:
            return self._boot_id

    def synced(self) -> bool:
        """The fake sync state."""
        with self._lock:
            return self._synced

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on both clocks."""
        with self._lock:
            self._mono += seconds
            self._wall += timedelta(seconds=seconds)

    def set_wall(self, wall: datetime, *, synced: bool | None = None) -> None:
        """Step the wall clock (as NTP does on first sync); monotonic time is unaffected."""
        with self._lock:
            self._wall = wall
            if synced is not None:
                self._synced = synced

    def reboot(self, boot_id: str, *, monotonic: float = 10.0) -> None:
        """Start a new boot: new id, monotonic time restarts."""
        with self._lock:
            self._boot_id = boot_id
            self._mono = monotonic
