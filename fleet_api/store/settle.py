"""Place the records of never-synced boots by their bounds (:mod:`fleet_api.bounds`), stored.

Ingestion places an unsynced record provisionally (its tag, else its wall time); in the
same transaction, :func:`settle_batch` places by bounds the batch's new unsynced records
(their boot's offset narrowed by what its earlier records said, kept in
``unsynced_boots``), and all the unsynced records of every boot whose bounds a trusted
record of the batch may have moved: those with an unsynced record between the trusted
count records around the batch's trusted seqs (or a boot it re-based). A visit created
or changed, or staff assigning an unplaced record, re-settles all of an exhibit's
unsynced records
(:func:`settle_exhibits`). Each record's bounds, and whether it is unplaced, are kept in
``record_bounds``; moved records move their rollup contribution (``reattribution.move``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, func, insert, select

from fleet_api.attribution import Placement, TimeBasis
from fleet_api.bounds import (
    Bounds,
    Neighbour,
    Unsure,
    boot_bounds_and_offsets,
    decide,
    placed_time,
)
from fleet_api.store.reattribution import StoredRecord, load_records, move
from fleet_api.store.windows import load_index
from fleet_api.tables import count_records, session_records
from fleet_api.tables_bounds import record_bounds, unsynced_boots

UNSYNCED = str(TimeBasis.UNSYNCED)
RECORD_TABLES = (count_records, session_records)


def settle_batch(
    connection: Connection,
    trusted: Mapping[str, tuple[int, int]],
    fresh: Mapping[tuple[str, str], list[int]],
    rebased: Iterable[tuple[str, str]],
) -> int:
    """After a batch: settle again every boot whose bounds its trusted records (lowest and
    highest seq per exhibit: ``trusted``) or the boots it re-based may have moved; and
    the batch's new unsynced records (``fresh``: seqs per exhibit and boot)."""
    wider = dict(trusted)
    for exhibit_id, boot_id in sorted(set(rebased)):
        forget_trusted(connection, exhibit_id, [boot_id])
        for table in RECORD_TABLES:
            c = table.c
            low, high = connection.execute(
                select(func.min(c.seq), func.max(c.seq)).where(
                    c.exhibit_id == exhibit_id, c.boot_id == boot_id
                )
            ).one()
            if low is None:
                continue
            old = wider.get(exhibit_id)
            wider[exhibit_id] = (
                (int(low), int(high)) if old is None else (min(old[0], low), max(old[1], high))
            )
    moved = 0
    settled: set[tuple[str, str]] = set()
    never_synced = _with_unsynced_boots(connection, wider)
    for exhibit_id, (lowest, highest) in sorted(wider.items()):
        if exhibit_id not in never_synced:
            continue  # the usual case: nothing of this exhibit waits for bounds
        below = _trusted_seq(connection, exhibit_id, below=lowest)
        above = _trusted_seq(connection, exhibit_id, above=highest)
        boots = _unsynced_boots(connection, exhibit_id, below or 0, above)
        if boots:
            moved += _settle_boots(connection, exhibit_id, boots)
            settled.update((exhibit_id, boot) for boot in boots)
    for (exhibit_id, boot_id), seqs in sorted(fresh.items()):
        if (exhibit_id, boot_id) not in settled:
            moved += _settle_new(connection, exhibit_id, boot_id, seqs)
    return moved


def _with_unsynced_boots(connection: Connection, exhibit_ids: Iterable[str]) -> set[str]:
    """Those of ``exhibit_ids`` with a never-synced boot on record (``unsynced_boots``)."""
    wanted = sorted(set(exhibit_ids))
    if not wanted:
        return set()
    return set(
        connection.execute(
            select(unsynced_boots.c.exhibit_id)
            .distinct()
            .where(unsynced_boots.c.exhibit_id.in_(wanted))
        ).scalars()
    )


def settle_exhibits(connection: Connection, exhibit_ids: Iterable[str]) -> int:
    """Re-settle every unsynced record of ``exhibit_ids``."""
    moved = 0
    for exhibit_id in sorted(set(exhibit_ids)):
        boots = _unsynced_boots(connection, exhibit_id, 0, None)
        if boots:
            moved += _settle_boots(connection, exhibit_id, boots)
    return moved


def forget_trusted(connection: Connection, exhibit_id: str, boot_ids: Iterable[str]) -> None:
    """Drop the bounds rows of records of ``boot_ids`` that are trusted now (re-based)."""
    boots = sorted(set(boot_ids))
    connection.execute(
        delete(unsynced_boots).where(
            unsynced_boots.c.exhibit_id == exhibit_id, unsynced_boots.c.boot_id.in_(boots)
        )
    )
    for table in RECORD_TABLES:
        c = table.c
        connection.execute(
            delete(record_bounds).where(
                record_bounds.c.exhibit_id == exhibit_id,
                record_bounds.c.seq.in_(
                    select(c.seq).where(
                        c.exhibit_id == exhibit_id,
                        c.boot_id.in_(boots),
                        c.time_basis != UNSYNCED,
                    )
                ),
            )
        )


def _trusted_seq(
    connection: Connection, exhibit_id: str, *, below: int | None = None, above: int | None = None
) -> int | None:
    c = count_records.c
    if below is not None:
        statement = select(func.max(c.seq)).where(c.seq < below)
    else:
        statement = select(func.min(c.seq)).where(c.seq > above)
    value = connection.execute(
        statement.where(c.exhibit_id == exhibit_id, c.time_basis != UNSYNCED)
    ).scalar()
    return None if value is None else int(value)


def _unsynced_boots(
    connection: Connection, exhibit_id: str, lowest: int, highest: int | None
) -> set[str]:
    boots: set[str] = set()
    for table in RECORD_TABLES:
        c = table.c
        statement = (
            select(c.boot_id)
            .distinct()
            .where(c.exhibit_id == exhibit_id, c.seq >= lowest, c.time_basis == UNSYNCED)
        )
        if highest is not None:
            statement = statement.where(c.seq <= highest)
        boots.update(connection.execute(statement).scalars())
    return boots


def _neighbours(
    connection: Connection, exhibit_id: str, lowest: int, highest: int
) -> tuple[list[int], list[Neighbour]]:
    """Trusted count records from the one below ``lowest`` to the one above ``highest``."""
    c = count_records.c
    first = _trusted_seq(connection, exhibit_id, below=lowest) or 0
    last = _trusted_seq(connection, exhibit_id, above=highest)
    statement = (
        select(c.seq, c.corrected_start, c.seconds)
        .where(c.exhibit_id == exhibit_id, c.seq >= first, c.time_basis != UNSYNCED)
        .order_by(c.seq)
    )
    if last is not None:
        statement = statement.where(c.seq <= last)
    rows = connection.execute(statement).all()
    return [int(r[0]) for r in rows], [Neighbour(r[1], float(r[2])) for r in rows]


def _settle_boots(connection: Connection, exhibit_id: str, boots: set[str]) -> int:
    """Settle every unsynced record of ``boots``, their offsets computed afresh."""
    sorted_boots = sorted(boots)
    records = load_records(
        connection,
        lambda t: (
            (t.c.exhibit_id == exhibit_id)
            & t.c.boot_id.in_(sorted_boots)
            & (t.c.time_basis == UNSYNCED)
        ),
    )
    if not records:
        return 0
    bounds, offsets = boot_bounds_and_offsets(_unsure(connection, exhibit_id, records))
    _store_offsets(connection, exhibit_id, offsets)
    return _place(connection, exhibit_id, records, bounds)


def _settle_new(connection: Connection, exhibit_id: str, boot_id: str, seqs: list[int]) -> int:
    """Settle a batch's new unsynced records of one boot with what the boot's earlier
    records said of its offset (stored); the earlier records keep their bounds, which
    are at worst looser than they could be now: conservative, never wrong."""
    records = load_records(
        connection,
        lambda t: (
            (t.c.exhibit_id == exhibit_id)
            & t.c.seq.in_(seqs)
            & (t.c.boot_id == boot_id)
            & (t.c.time_basis == UNSYNCED)
        ),
    )
    if not records:
        return 0
    prior = connection.execute(
        select(unsynced_boots.c.low, unsynced_boots.c.high).where(
            unsynced_boots.c.exhibit_id == exhibit_id, unsynced_boots.c.boot_id == boot_id
        )
    ).first()
    unknown = prior is None or (prior[0] is None and prior[1] is None)
    if unknown and _unsynced_count(connection, exhibit_id, boot_id) > len(records):
        # No summary of the others (stored before revision 0014), or they contradict.
        return _settle_boots(connection, exhibit_id, {boot_id})
    known = None if prior is None or unknown else {boot_id: Bounds(prior[0], prior[1])}
    bounds, offsets = boot_bounds_and_offsets(_unsure(connection, exhibit_id, records), known)
    if offsets.get(boot_id) is None:
        return _settle_boots(connection, exhibit_id, {boot_id})  # a contradiction: all again
    _store_offsets(connection, exhibit_id, offsets)
    return _place(connection, exhibit_id, records, bounds)


def _unsynced_count(connection: Connection, exhibit_id: str, boot_id: str) -> int:
    total = 0
    for table in RECORD_TABLES:
        c = table.c
        total += int(
            connection.execute(
                select(func.count()).where(
                    c.exhibit_id == exhibit_id, c.boot_id == boot_id, c.time_basis == UNSYNCED
                )
            ).scalar_one()
        )
    return total


def _store_offsets(
    connection: Connection, exhibit_id: str, offsets: Mapping[str, Bounds | None]
) -> None:
    boots = sorted(offsets)
    connection.execute(
        delete(unsynced_boots).where(
            unsynced_boots.c.exhibit_id == exhibit_id, unsynced_boots.c.boot_id.in_(boots)
        )
    )
    # A boot whose records contradict each other keeps a row with neither bound (a
    # consistent one always has ``high``, from receipt): its records are settled together.
    rows = [
        {
            "exhibit_id": exhibit_id,
            "boot_id": boot,
            "low": None if found is None else found.earliest,
            "high": None if found is None else found.latest,
        }
        for boot in boots
        for found in (offsets[boot],)
    ]
    if rows:
        connection.execute(insert(unsynced_boots), rows)


def _unsure(connection: Connection, exhibit_id: str, records: list[StoredRecord]) -> list[Unsure]:
    seqs = [r.seq for r in records]
    trusted_seqs, trusted = _neighbours(connection, exhibit_id, min(seqs), max(seqs))
    unsure: list[Unsure] = []
    for record in records:
        position = bisect.bisect_left(trusted_seqs, record.seq)
        unsure.append(
            Unsure(
                key=(record.table.name, record.seq),
                boot_id=record.boot_id,
                mono_start=record.mono_start,
                span_s=record.span_s,
                session=record.table is session_records,
                received_at=record.received_at or record.start,
                before=trusted[position - 1] if position > 0 else None,
                after=trusted[position] if position < len(trusted) else None,
            )
        )
    return unsure


def _place(
    connection: Connection,
    exhibit_id: str,
    records: list[StoredRecord],
    bounds: Mapping[tuple[str, int], Bounds],
) -> int:
    """Decide each record's place by its bounds; move those that changed; keep the bounds."""
    seqs = [r.seq for r in records]
    assigned = dict(
        connection.execute(
            select(record_bounds.c.seq, record_bounds.c.assigned_visit_id).where(
                record_bounds.c.exhibit_id == exhibit_id,
                record_bounds.c.seq.in_(seqs),
                record_bounds.c.assigned_visit_id.is_not(None),
            )
        ).all()
    )
    index = load_index(
        connection, exhibit_ids={exhibit_id}, visit_ids={r.tag for r in records if r.tag}
    )
    decided: dict[tuple[str, int], tuple[Bounds, Placement, bool]] = {}
    for record in records:
        key = (record.table.name, record.seq)
        own = bounds[key]
        decision = decide(
            index,
            exhibit_id=exhibit_id,
            tag=record.tag,
            bounds=own,
            assigned=assigned.get(record.seq),
        )
        at = placed_time(index, record.start, own, decision.visit_id)
        placement = Placement(at, TimeBasis.UNSYNCED, decision.visit_id)
        decided[key] = (own, placement, decision.how in ("staff", "unplaced"))

    def placement_of(record: StoredRecord) -> Placement:
        return decided[(record.table.name, record.seq)][1]

    moved = move(connection, records, placement_of)
    _store_bounds(connection, exhibit_id, records, decided)
    return moved


def _store_bounds(
    connection: Connection,
    exhibit_id: str,
    records: list[StoredRecord],
    decided: Mapping[tuple[str, int], tuple[Bounds, Placement, bool]],
) -> None:
    seqs = [r.seq for r in records]
    kept = {
        row.seq: row
        for row in connection.execute(
            select(record_bounds).where(
                record_bounds.c.exhibit_id == exhibit_id,
                record_bounds.c.seq.in_(seqs),
                record_bounds.c.assigned_visit_id.is_not(None),
            )
        )
    }
    connection.execute(
        delete(record_bounds).where(
            record_bounds.c.exhibit_id == exhibit_id, record_bounds.c.seq.in_(seqs)
        )
    )
    rows = []
    for record in records:
        own, placement, unplaced = decided[(record.table.name, record.seq)]
        old = kept.get(record.seq)
        if old is not None and placement.visit_id != old.assigned_visit_id:
            old = None  # staff's visit is no longer a candidate (the visit changed)
        rows.append(
            {
                "exhibit_id": exhibit_id,
                "seq": record.seq,
                "earliest": own.earliest,
                "latest": own.latest,
                "unplaced": unplaced,
                "assigned_visit_id": None if old is None else old.assigned_visit_id,
                "assigned_by": None if old is None else old.assigned_by,
                "assigned_at": None if old is None else old.assigned_at,
            }
        )
    connection.execute(insert(record_bounds), rows)
