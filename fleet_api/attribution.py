"""When a record really happened and which visit it belongs to: pure functions, no I/O.

Clocks lie (docs/architecture.md, "hard problem 2"): most Pis have no real-time clock,
and after a power cut without network the wall clock restarts from the last saved time.
Every record carries its boot id, its monotonic time within that boot, the wall time
the Pi believed, whether that wall clock was synced, and the visit the exhibit was
assigned to (its tag). From these:

1. **Corrected time.** A record made with a synced clock keeps its wall time
   (``synced``). Otherwise, if any record or heartbeat of the same boot was made with a
   synced clock, that reference fixes the boot's offset between wall and monotonic
   time, and the record's time is its monotonic time plus that offset (``rebased``).
   Otherwise the wall time is kept as it is and flagged ``unsynced``.
2. **Visit.** A record whose time is trustworthy (synced or re-based) belongs to the
   visit that took its exhibit and whose window ``[starts_at, ends_at)`` holds that time,
   whatever its tag says: a tag never beats a trusted clock (a stale tag, an exhibit
   checked out for tomorrow while today's visit runs). One exhibit is never in two
   overlapping visits (``create_visit`` refuses it), so there is at most one; else it is
   unassigned (the depot). A record of a boot that never had a synced clock is placed
   here only provisionally (its tag, else its wall time): :mod:`fleet_api.bounds` then
   places it by the bounds that seq order gives it, or leaves it *unplaced*.

The store applies these at ingest time and again whenever a later fact changes the
answer (the first synced reference of a boot, a visit created or changed).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class TimeBasis(StrEnum):
    """How a record's corrected time was obtained."""

    SYNCED = "synced"
    """The Pi's clock was synced: its wall time is right."""
    REBASED = "rebased"
    """Monotonic time plus the offset of a synced reference from the same boot."""
    UNSYNCED = "unsynced"
    """No synced reference from this boot (yet): the wall time as the Pi believed it."""


@dataclass(frozen=True, slots=True)
class ClockReference:
    """A moment of one boot when the wall clock was synced: ``wall`` at monotonic ``mono``."""

    wall: datetime
    mono: float

    def wall_at(self, mono: float) -> datetime:
        """The true wall time at monotonic time ``mono`` of the same boot."""
        return self.wall + timedelta(seconds=mono - self.mono)


@dataclass(frozen=True, slots=True)
class CorrectedTime:
    """A record's best known time and how it was obtained."""

    at: datetime
    basis: TimeBasis


def correct_time(
    *, start: datetime, mono_start: float, clock_synced: bool, reference: ClockReference | None
) -> CorrectedTime:
    """The corrected time of a record (rule 1 of the module docstring), in UTC."""
    if clock_synced:
        return CorrectedTime(start.astimezone(UTC), TimeBasis.SYNCED)
    if reference is not None:
        try:
            return CorrectedTime(reference.wall_at(mono_start).astimezone(UTC), TimeBasis.REBASED)
        except OverflowError:
            pass  # a monotonic time no boot reaches, stored before ingestion bounded it
    return CorrectedTime(start.astimezone(UTC), TimeBasis.UNSYNCED)


@dataclass(frozen=True, slots=True)
class VisitWindow:
    """What attribution needs to know of a visit."""

    id: int
    starts_at: datetime
    ends_at: datetime
    exhibit_ids: frozenset[str]

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` is in ``[starts_at, ends_at)``."""
        return self.starts_at <= at < self.ends_at


class VisitIndex:
    """Visits by id, and per exhibit by start time, to attribute many records quickly."""

    def __init__(self, visits: Iterable[VisitWindow] = ()) -> None:
        self._by_id: dict[int, VisitWindow] = {}
        self._by_exhibit: dict[str, list[VisitWindow]] = {}
        self._starts: dict[str, list[datetime]] = {}
        for visit in visits:
            self._by_id[visit.id] = visit
        for visit in sorted(self._by_id.values(), key=lambda v: (v.starts_at, v.id)):
            for exhibit_id in visit.exhibit_ids:
                self._by_exhibit.setdefault(exhibit_id, []).append(visit)
        for exhibit_id, windows in self._by_exhibit.items():
            self._starts[exhibit_id] = [window.starts_at for window in windows]

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, visit_id: int) -> VisitWindow | None:
        """The visit with ``visit_id``, if it is known."""
        return self._by_id.get(visit_id)

    def windows_of(self, exhibit_id: str) -> list[VisitWindow]:
        """The visits that took ``exhibit_id``, by start."""
        return list(self._by_exhibit.get(exhibit_id, ()))

    def scheduled(self, exhibit_id: str, at: datetime) -> VisitWindow | None:
        """The visit that took ``exhibit_id`` and whose window holds ``at``, if any."""
        starts = self._starts.get(exhibit_id)
        if not starts:
            return None
        # The latest visit starting at or before ``at``: windows of one exhibit do not
        # overlap, so no earlier one can hold ``at`` if this one does not.
        position = bisect.bisect_right(starts, at) - 1
        if position < 0:
            return None
        window = self._by_exhibit[exhibit_id][position]
        return window if window.contains(at) else None

    def scheduled_over(
        self, exhibit_id: str, since: datetime, until: datetime
    ) -> tuple[bool, VisitWindow | None]:
        """``scheduled`` for every time in ``[since, until]`` at once, if it is the same.

        ``(True, window)`` if ``scheduled(exhibit_id, at)`` is ``window`` (or None) for
        every such ``at``; ``(False, None)`` if it varies.
        """
        starts = self._starts.get(exhibit_id)
        if not starts:
            return True, None
        position = bisect.bisect_right(starts, since) - 1
        if bisect.bisect_right(starts, until) - 1 != position:
            return False, None  # a visit starts within the span
        if position < 0:
            return True, None
        # Every time of the span picks this window (the latest starting at or before
        # it), which starts at or before ``since``: only its end can split the span.
        window = self._by_exhibit[exhibit_id][position]
        if until < window.ends_at:
            return True, window
        if since >= window.ends_at:
            return True, None
        return False, None


def attribute(
    index: VisitIndex, *, exhibit_id: str, tag: int | None, at: datetime, basis: TimeBasis
) -> int | None:
    """The visit a record belongs to, or None if unassigned (rule 2 of the module docstring)."""
    if tag is not None and basis is TimeBasis.UNSYNCED:
        tagged = index.get(tag)
        if tagged is not None and exhibit_id in tagged.exhibit_ids:
            return tagged.id
    scheduled = index.scheduled(exhibit_id, at)
    return None if scheduled is None else scheduled.id


def attribute_many(
    index: VisitIndex,
    *,
    exhibit_id: str,
    tag: int | None,
    times: Sequence[datetime],
    basis: TimeBasis,
) -> list[int | None]:
    """:func:`attribute` of each of ``times``, decided once when it is the same for all.

    The records of one batch share exhibit, tag and basis, and their times lie within a
    few hours: one visit window (or none) usually holds them all.
    """
    if not times:
        return []
    since, until = min(times), max(times)
    if tag is not None and basis is TimeBasis.UNSYNCED:
        tagged = index.get(tag)
        if tagged is not None and exhibit_id in tagged.exhibit_ids:
            return [tagged.id] * len(times)
    same, window = index.scheduled_over(exhibit_id, since, until)
    if same:
        return [None if window is None else window.id] * len(times)
    return [attribute(index, exhibit_id=exhibit_id, tag=None, at=at, basis=basis) for at in times]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a record goes: its corrected time, how that was obtained, its visit."""

    at: datetime
    basis: TimeBasis
    visit_id: int | None

    @property
    def hour(self) -> datetime:
        """The hour bucket of the rollups (UTC, since every stored time is UTC)."""
        return hour_of(self.at)


def place(
    index: VisitIndex,
    *,
    exhibit_id: str,
    start: datetime,
    mono_start: float,
    clock_synced: bool,
    tag: int | None,
    reference: ClockReference | None,
) -> Placement:
    """Correct a record's time, then attribute it."""
    corrected = correct_time(
        start=start, mono_start=mono_start, clock_synced=clock_synced, reference=reference
    )
    visit_id = attribute(
        index, exhibit_id=exhibit_id, tag=tag, at=corrected.at, basis=corrected.basis
    )
    return Placement(corrected.at, corrected.basis, visit_id)


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour holding ``at``."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
