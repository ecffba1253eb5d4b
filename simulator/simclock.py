"""A simulated exhibit's clocks, moved by the scenario engine: true time, skew, sync, boots.

The engine owns *true* time. A ``SimClock`` answers the agent (``device.core.clock.Clock``)
from it: the wall clock is true time plus a skew (a Pi that rebooted without network
believes it is a day earlier, and says it is not synced), the monotonic clock counts
from the boot. ``advance_to`` only moves forward: a simulated exhibit never lives the
same instant twice. ``jump`` moves the wall clock within a boot (and it says it is not
synced any more, as the kernel does after a manual set). ``sync`` is NTP arriving: the
wall clock jumps to true time (back, after a jump ahead), the monotonic clock does not
move, exactly what the agent's and the fleet's re-basing rely on.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

BOOT_MONOTONIC_S = 10.0
"""Monotonic seconds at boot: the kernel has run a little before the agent starts."""


class SimClock:
    """The ``Clock`` of one boot of one simulated exhibit (see the module docstring)."""

    def __init__(
        self,
        *,
        true_now: datetime,
        boot_id: str,
        skew: timedelta = timedelta(0),
        synced: bool = True,
        boot_monotonic: float = BOOT_MONOTONIC_S,
    ) -> None:
        if true_now.tzinfo is None:
            raise ValueError("true_now must be timezone-aware")
        if synced and skew:
            raise ValueError("a synced clock has no skew")
        self._lock = threading.Lock()
        self._boot_true = true_now.astimezone(UTC)
        self._now = self._boot_true
        self._boot_mono = boot_monotonic
        self._boot_id = boot_id
        self._skew = skew
        self._synced = synced

    # -- device.core.clock.Clock ------------------------------------------------------------

    def wall(self) -> datetime:
        """What the Pi believes the time is: true time plus its skew."""
        with self._lock:
            return self._now + self._skew

    def monotonic(self) -> float:
        """Seconds since boot (plus the boot offset); never jumps."""
        with self._lock:
            return self._boot_mono + (self._now - self._boot_true).total_seconds()

    def boot_id(self) -> str:
        """This boot's id."""
        return self._boot_id

    def synced(self) -> bool:
        """Whether NTP (simulated) has set the wall clock in this boot."""
        with self._lock:
            return self._synced

    # -- the engine's controls ---------------------------------------------------------

    @property
    def true_now(self) -> datetime:
        """The true time this exhibit has reached."""
        with self._lock:
            return self._now

    def advance_to(self, true_time: datetime) -> None:
        """Let true time pass up to ``true_time``; earlier times are refused."""
        with self._lock:
            if true_time < self._now:
                raise ValueError(
                    f"time runs forward only: {true_time.isoformat()} is before "
                    f"{self._now.isoformat()}"
                )
            self._now = true_time

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of true time pass (the simulator drives a gesture's edges so)."""
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def jump(self, by: timedelta) -> None:
        """The wall clock jumps by ``by`` (a manual set, an RTC read): no longer synced."""
        with self._lock:
            self._skew += by
            self._synced = False

    def sync(self) -> None:
        """NTP arrives: the wall clock becomes true time, the monotonic clock keeps going."""
        with self._lock:
            self._skew = timedelta(0)
            self._synced = True
