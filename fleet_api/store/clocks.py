"""Synced clock references per boot (``boot_clocks``): the first one of each boot is kept.

Any record or heartbeat made with a synced clock pairs a true wall time with the
monotonic time of its boot. The first such pair stored for a boot is its reference;
later ones are ignored, so a boot's records are re-based once and stay put.

A pair whose wall time lies more than ``FUTURE_TOLERANCE`` after the fleet received it
cannot be true, whatever the Pi claims: it never becomes a reference, or one lying
record would drag every unsynced record of its boot out of its visit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, tuple_

from fleet_api.attribution import ClockReference
from fleet_api.store.dialect import insert
from fleet_api.tables import boot_clocks

FUTURE_TOLERANCE = timedelta(hours=1)
"""How far ahead of its arrival a synced time may be (clock skew between Pi and fleet)."""

BootKey = tuple[str, str]
"""(exhibit id, boot id)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A synced (wall, monotonic) pair seen in a message, and where it came from."""

    reference: ClockReference
    source: str
    received_at: datetime

    @property
    def plausible(self) -> bool:
        """Whether the claimed wall time is not after the message's arrival (with tolerance)."""
        return self.reference.wall <= self.received_at + FUTURE_TOLERANCE


def establish(connection: Connection, candidates: Mapping[BootKey, Candidate]) -> set[BootKey]:
    """Store each plausible candidate of a boot that has no reference yet; return those boots."""
    candidates = {key: c for key, c in candidates.items() if c.plausible}
    if not candidates:
        return set()
    statement = insert(connection, boot_clocks).on_conflict_do_nothing(
        index_elements=["exhibit_id", "boot_id"]
    )
    rows = [
        {
            "exhibit_id": exhibit_id,
            "boot_id": boot_id,
            "ref_wall": candidate.reference.wall,
            "ref_mono": candidate.reference.mono,
            "source": candidate.source,
            "received_at": candidate.received_at,
        }
        for (exhibit_id, boot_id), candidate in sorted(candidates.items())
    ]
    inserted = connection.execute(
        statement.returning(boot_clocks.c.exhibit_id, boot_clocks.c.boot_id), rows
    )
    return {(row.exhibit_id, row.boot_id) for row in inserted}


def load(connection: Connection, keys: Iterable[BootKey]) -> dict[BootKey, ClockReference]:
    """The references of the boots ``keys`` that have one."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    columns = boot_clocks.c
    return {
        (row.exhibit_id, row.boot_id): ClockReference(row.ref_wall, row.ref_mono)
        for row in connection.execute(
            select(columns.exhibit_id, columns.boot_id, columns.ref_wall, columns.ref_mono).where(
                tuple_(columns.exhibit_id, columns.boot_id).in_(wanted)
            )
        )
    }
