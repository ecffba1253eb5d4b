"""Which seqs of an exhibit have arrived, what is missing, and whether a visit's data is final.

Every record an exhibit sends has the next number of one persistent, gap-free sequence
(count and session records share it). The fleet keeps, per exhibit, the maximal runs of
seqs received (:class:`SeqRange`); the gaps between them, and before the first, are
records still in an outbox (or lost). A record covering ``seq..last_seq`` (a future
compacted record) is one more range to merge, so nothing here assumes one seq per record.

Pure functions; :mod:`fleet_api.store.seq_ranges` keeps the ranges in the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True, order=True)
class SeqRange:
    """Seqs ``first`` to ``last``, both included."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last:
            raise ValueError(f"not a seq range: {self.first}..{self.last}")

    @property
    def size(self) -> int:
        """How many seqs the range holds."""
        return self.last - self.first + 1


def islands(ranges: Iterable[SeqRange]) -> list[SeqRange]:
    """Merge overlapping and adjacent ranges into maximal ones, sorted."""
    merged: list[SeqRange] = []
    for item in sorted(ranges):
        if merged and item.first <= merged[-1].last + 1:
            if item.last > merged[-1].last:
                merged[-1] = SeqRange(merged[-1].first, item.last)
        else:
            merged.append(item)
    return merged


def singles(seqs: Iterable[int]) -> list[SeqRange]:
    """The maximal ranges of a set of single seqs."""
    return islands(SeqRange(seq, seq) for seq in seqs)


@dataclass(frozen=True, slots=True)
class RangeChange:
    """Rows to delete and insert so the stored ranges become maximal again."""

    delete: list[SeqRange]
    insert: list[SeqRange]


def merge(existing: Sequence[SeqRange], new: Iterable[SeqRange]) -> RangeChange:
    """What to change in ``existing`` (maximal ranges) to add ``new``."""
    combined = islands([*existing, *new])
    before, after = set(existing), set(combined)
    return RangeChange(delete=sorted(before - after), insert=sorted(after - before))


def gaps(ranges: Sequence[SeqRange]) -> list[SeqRange]:
    """Seqs missing between 1 and the highest received, from maximal sorted ranges."""
    missing: list[SeqRange] = []
    expected = 1
    for item in ranges:
        if item.first > expected:
            missing.append(SeqRange(expected, item.first - 1))
        expected = max(expected, item.last + 1)
    return missing


def missing_count(ranges: Sequence[SeqRange]) -> int:
    """How many seqs are missing below the highest received."""
    return sum(gap.size for gap in gaps(ranges))


def gaps_near(missing: Sequence[SeqRange], first: int, last: int) -> list[SeqRange]:
    """The gaps among, or right next to, seqs ``first..last`` (e.g. those of one visit).

    Seqs are given in time order, so a record missing among a visit's records, or just
    before or after them, may well be the visit's; one missing long before is not.
    """
    return [gap for gap in missing if gap.last >= first - 1 and gap.first <= last + 1]


class DataStatus(StrEnum):
    """Whether the numbers of one exhibit in one visit can still change."""

    IN_PROGRESS = "in_progress"
    """The visit has not ended."""
    INCOMPLETE = "incomplete"
    """Seqs are missing among or next to the visit's records."""
    UNPLACED = "unplaced"
    """No seqs missing, but records that may be this visit's could not be placed: their
    bounds also allow another visit or none (:mod:`fleet_api.bounds`); staff may assign them."""
    PENDING = "pending"
    """Nothing is known to be missing, but nothing shows that everything arrived."""
    FINAL = "final"
    """No gaps, and the exhibit has since sent later records or reported an empty outbox."""


def visit_data_status(
    *,
    ended: bool,
    relevant_gaps: Sequence[SeqRange],
    later_record: bool,
    drained: bool,
    unplaced: int = 0,
) -> DataStatus:
    """Classify one exhibit's data for one visit.

    ``later_record``: a record made after the visit has arrived (the outbox sends in seq
    order, so everything before it has been sent). ``drained``: a heartbeat received
    after the visit's end reported an empty outbox. ``unplaced``: records that may be
    this visit's and could not be placed: never final while there are any.
    """
    if not ended:
        return DataStatus.IN_PROGRESS
    if relevant_gaps:
        return DataStatus.INCOMPLETE
    if unplaced:
        return DataStatus.UNPLACED
    if later_record or drained:
        return DataStatus.FINAL
    return DataStatus.PENDING
