"""Bounds from order: when a record of a never-synced boot can have happened, and where it goes.

A record whose boot never had a synced clock (``unsynced``: no re-base possible) carries
a wall time that may be days wrong, either way. But its exhibit's seqs are persistent and
ordered across boots (``device/outbox/store.py`` gives them out in sealing order, in one
transaction), so trusted records (synced, or re-based) of the same exhibit pin it:

- **after**: the trusted count record ``T`` with the highest seq below the record's was
  sealed before it, so the record's last interaction is no earlier than ``T``'s start
  minus the slack of sealing (:data:`ORDER_SLACK`; a session, sealed once idle, up to
  :data:`SESSION_SLACK` later): ``start >= T.start - slack - span``;
- **before**: the trusted count record ``T`` with the lowest seq above the record's was
  sealed after it: ``start <= T.end + ORDER_SLACK``; and the fleet received it, by the
  fleet's own clock: ``start <= received_at``;
- **one boot, one offset**: a boot's monotonic clock runs with true time, so every record
  of the boot has ``true start = mono_start + offset`` with one offset; each record's
  bounds narrow the offset, and with it the bounds of every record of the boot.

Placement (:func:`decide`): the tag, if the tagged visit took the exhibit and its window
meets the bounds; else the one visit the bounds allow; else no visit, if the bounds lie
wholly outside the exhibit's visits; else the record is **unplaced**: kept, counted in no
visit, shown to staff with its candidate visits, until staff assign it. A wall time its
bounds contradict never places a record. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleet_api.attribution import VisitIndex, VisitWindow

ORDER_SLACK = timedelta(minutes=2)
"""How long after its bucket ended a count record may be sealed: the agent's worker seals
due buckets every turn (a busy turn, a flush, a power cut mid-bucket all stay within it)."""
SESSION_SLACK = timedelta(hours=1) + ORDER_SLACK
"""A session is sealed ``session_idle_s`` after its last interaction (at most 3600 s, the
agent's bound): so much earlier than its seal a session may have ended."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """The true start of a record lies in ``[earliest, latest]``; None: not bounded there."""

    earliest: datetime | None
    latest: datetime | None

    def meets(self, window: VisitWindow) -> bool:
        """Whether some time in the bounds lies in ``window``'s ``[starts_at, ends_at)``."""
        return (self.latest is None or window.starts_at <= self.latest) and (
            self.earliest is None or self.earliest < window.ends_at
        )

    def clamp(self, at: datetime) -> datetime:
        """``at`` moved into the bounds (the nearest time they allow)."""
        if self.earliest is not None and at < self.earliest:
            return self.earliest
        if self.latest is not None and at > self.latest:
            return self.latest
        return at


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A trusted count record next in seq order: its true start and its bucket length."""

    start: datetime
    seconds: float


@dataclass(frozen=True, slots=True)
class Unsure:
    """A record of a never-synced boot, with what bounds it."""

    key: tuple[str, int]
    """(table name, seq)."""
    boot_id: str
    mono_start: float
    span_s: float
    """Its bucket's seconds, or a session's dwell."""
    session: bool
    received_at: datetime
    before: Neighbour | None
    """The trusted count record with the highest lower seq."""
    after: Neighbour | None
    """The trusted count record with the lowest higher seq."""


def own_bounds(record: Unsure) -> Bounds:
    """The bounds of one record from its neighbours in seq order and its receipt."""
    earliest = None
    if record.before is not None:
        slack = SESSION_SLACK if record.session else ORDER_SLACK
        earliest = record.before.start - slack - timedelta(seconds=record.span_s)
    latest = record.received_at
    if record.after is not None:
        after = record.after.start + timedelta(seconds=record.after.seconds) + ORDER_SLACK
        latest = min(latest, after)
    return Bounds(earliest, latest)


Offset = Bounds
"""A boot's offset as bounds on "the true time at monotonic 0"."""


def boot_bounds(
    records: Sequence[Unsure], prior: Mapping[str, Offset] | None = None
) -> dict[tuple[str, int], Bounds]:
    """Each record's bounds, narrowed by the others of its boot (one offset per boot)."""
    return boot_bounds_and_offsets(records, prior)[0]


def boot_bounds_and_offsets(
    records: Sequence[Unsure], prior: Mapping[str, Offset] | None = None
) -> tuple[dict[tuple[str, int], Bounds], dict[str, Offset | None]]:
    """Each record's bounds, and each boot's offset (None: its records contradict).

    ``prior``: what earlier records of a boot already said of its offset. If the records
    of a boot contradict each other (no offset satisfies them all: seq order broken, or a
    monotonic clock that did not run with true time), each keeps only its own bounds; a
    record whose own neighbours contradict each other is bounded only by its receipt.
    """
    result: dict[tuple[str, int], Bounds] = {}
    offsets: dict[str, Offset | None] = {}
    by_boot: dict[str, list[tuple[Unsure, Bounds]]] = {}
    for record in records:
        own = own_bounds(record)
        if own.earliest is not None and own.latest is not None and own.earliest > own.latest:
            own = Bounds(None, record.received_at)  # its neighbours contradict: not known
        by_boot.setdefault(record.boot_id, []).append((record, own))
    for boot_id, members in by_boot.items():
        known = (prior or {}).get(boot_id)
        low = None if known is None else known.earliest
        high = None if known is None else known.latest
        for record, own in members:
            mono = timedelta(seconds=record.mono_start)
            if own.earliest is not None:
                low = max(low, own.earliest - mono) if low is not None else own.earliest - mono
            if own.latest is not None:
                high = min(high, own.latest - mono) if high is not None else own.latest - mono
        consistent = low is None or high is None or low <= high
        offsets[boot_id] = Bounds(low, high) if consistent else None
        for record, own in members:
            if not consistent:
                result[record.key] = own
                continue
            mono = timedelta(seconds=record.mono_start)
            result[record.key] = Bounds(
                None if low is None else low + mono, None if high is None else high + mono
            )
    return result, offsets


@dataclass(frozen=True, slots=True)
class Decision:
    """Where an unsure record goes: a visit, no visit, or unplaced (with its candidates)."""

    visit_id: int | None
    unplaced: bool
    candidates: tuple[int, ...]
    outside_possible: bool
    """Whether the bounds also allow a time in no visit of the exhibit."""
    how: str
    """``tag``, ``bounds``, ``staff`` or ``unplaced``."""


def candidates(
    index: VisitIndex, exhibit_id: str, bounds: Bounds
) -> tuple[list[VisitWindow], bool]:
    """The exhibit's visits whose window meets ``bounds``, by start; and whether the
    bounds also reach outside all of them."""
    windows = sorted(
        (w for w in index.windows_of(exhibit_id) if bounds.meets(w)),
        key=lambda w: (w.starts_at, w.id),
    )
    if bounds.earliest is None or bounds.latest is None or not windows:
        return windows, True
    covered_to = bounds.earliest
    for window in windows:
        if window.starts_at > covered_to:
            return windows, True
        covered_to = max(covered_to, window.ends_at)
    return windows, covered_to <= bounds.latest


def decide(
    index: VisitIndex,
    *,
    exhibit_id: str,
    tag: int | None,
    bounds: Bounds,
    assigned: int | None = None,
) -> Decision:
    """Place an unsure record (rules in the module docstring); ``assigned``: staff's choice."""
    windows, outside = candidates(index, exhibit_id, bounds)
    ids = tuple(w.id for w in windows)
    if tag is not None and tag in ids:
        return Decision(tag, False, ids, outside, "tag")
    if len(ids) == 1 and not outside:
        return Decision(ids[0], False, ids, outside, "bounds")
    if not ids:
        return Decision(None, False, ids, outside, "bounds")
    if assigned is not None and assigned in ids:
        return Decision(assigned, False, ids, outside, "staff")
    return Decision(None, True, ids, outside, "unplaced")


def placed_time(
    index: VisitIndex, wall: datetime, bounds: Bounds, visit_id: int | None
) -> datetime:
    """The time an unsure record is shown at: its wall time moved into its bounds, and into
    its visit's window when it has one (its hour is approximate; usage says so)."""
    at = bounds.clamp(wall)
    window = None if visit_id is None else index.get(visit_id)
    if window is not None and not window.contains(at):
        inside = Bounds(
            window.starts_at if bounds.earliest is None else max(bounds.earliest, window.starts_at),
            window.ends_at - timedelta(microseconds=1)
            if bounds.latest is None
            else min(bounds.latest, window.ends_at - timedelta(microseconds=1)),
        )
        at = inside.clamp(at)
    return at
