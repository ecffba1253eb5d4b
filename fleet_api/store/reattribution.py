"""Move stored records when a later fact changes where they belong, rollups included.

Two facts can arrive after the records they concern:

- the first synced clock reference of a boot (:func:`rebase_boots`): the boot's
  unsynced records get a corrected time, and may change visit and hour;
- a visit created or changed (:func:`reattribute_visit`): records of its exhibits in its
  old or new window, or tagged with it, may join or leave it.

Each moved record is updated in place and its rollup contribution moved from the old
cell to the new one, in the caller's transaction, so rollups always equal the records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, bindparam, literal, select

from fleet_api.attribution import ClockReference, Placement, TimeBasis, attribute, correct_time
from fleet_api.store.clocks import BootKey
from fleet_api.store.rollups import RollupDelta, apply
from fleet_api.store.windows import load_index
from fleet_api.tables import count_records, session_records


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A count or session record as stored, with its current placement."""

    table: Table
    exhibit_id: str
    seq: int
    boot_id: str
    start: datetime
    mono_start: float
    clock_synced: bool
    tag: int | None
    input: str
    amount: int
    """``count`` of a count record, ``interactions`` of a session."""
    dwell_s: float
    placement: Placement
    span_s: float = 0.0
    """A count record's bucket seconds, a session's dwell."""
    received_at: datetime | None = None


Condition = Callable[[Table], ColumnElement[bool]]
"""Which rows of a record table (count_records or session_records) to take."""


def load_records(connection: Connection, condition: Condition) -> list[StoredRecord]:
    """Count and session records matching ``condition(table)``."""
    found: list[StoredRecord] = []
    for table in (count_records, session_records):
        c = table.c
        is_counts = table is count_records
        statement = select(
            c.exhibit_id,
            c.seq,
            c.boot_id,
            c.start,
            c.mono_start,
            c.clock_synced,
            c.visit_id,
            c.input if is_counts else literal("").label("input"),
            c.count if is_counts else c.interactions,
            literal(0.0).label("dwell_s") if is_counts else c.dwell_s,
            c.corrected_start,
            c.time_basis,
            c.attributed_visit_id,
            c.seconds if is_counts else c.dwell_s,
            c.received_at,
        ).where(condition(table))
        for row in connection.execute(statement):
            found.append(
                StoredRecord(
                    table=table,
                    exhibit_id=row[0],
                    seq=row[1],
                    boot_id=row[2],
                    start=row[3],
                    mono_start=row[4],
                    clock_synced=row[5],
                    tag=row[6],
                    input=row[7],
                    amount=row[8],
                    dwell_s=float(row[9]),
                    placement=Placement(row[10], TimeBasis(row[11]), row[12]),
                    span_s=float(row[13]),
                    received_at=row[14],
                )
            )
    return found


def move(
    connection: Connection,
    records: Sequence[StoredRecord],
    placement_of: Callable[[StoredRecord], Placement],
) -> int:
    """Re-place ``records``; update those whose placement changed; return how many."""
    delta = RollupDelta()
    updates: dict[str, list[dict[str, object]]] = {}
    for record in records:
        new = placement_of(record)
        if new == record.placement:
            continue
        _contribute(delta, record, record.placement, sign=-1)
        _contribute(delta, record, new, sign=1)
        updates.setdefault(record.table.name, []).append(
            {
                "e": record.exhibit_id,
                "s": record.seq,
                "at": new.at,
                "basis": str(new.basis),
                "visit": new.visit_id,
            }
        )
    for table in (count_records, session_records):
        rows = updates.get(table.name)
        if rows:
            connection.execute(
                table.update()
                .where(table.c.exhibit_id == bindparam("e"), table.c.seq == bindparam("s"))
                .values(
                    corrected_start=bindparam("at", type_=table.c.corrected_start.type),
                    time_basis=bindparam("basis"),
                    attributed_visit_id=bindparam("visit"),
                ),
                rows,
            )
    apply(connection, delta)
    return sum(len(rows) for rows in updates.values())


def _contribute(delta: RollupDelta, record: StoredRecord, placement: Placement, sign: int) -> None:
    if record.table is count_records:
        delta.add_count(
            visit_id=placement.visit_id,
            exhibit_id=record.exhibit_id,
            input=record.input,
            at=placement.at,
            count=record.amount,
            sign=sign,
        )
    else:
        delta.add_session(
            visit_id=placement.visit_id,
            exhibit_id=record.exhibit_id,
            at=placement.at,
            interactions=record.amount,
            dwell_s=record.dwell_s,
            sign=sign,
        )


def rebase_boots(connection: Connection, references: Mapping[BootKey, ClockReference]) -> int:
    """Re-base the stored unsynced records of boots that just got their first reference."""
    if not references:
        return 0
    records: list[StoredRecord] = []
    for exhibit_id, boot_id in sorted(references):
        records += load_records(connection, _unsynced_of_boot(exhibit_id, boot_id))
    if not records:
        return 0
    corrected = {
        (r.exhibit_id, r.seq, r.table.name): correct_time(
            start=r.start,
            mono_start=r.mono_start,
            clock_synced=r.clock_synced,
            reference=references[(r.exhibit_id, r.boot_id)],
        )
        for r in records
    }
    times = [c.at for c in corrected.values()]
    index = load_index(
        connection,
        exhibit_ids={r.exhibit_id for r in records},
        since=min(times),
        until=max(times),
        visit_ids=_tags(records),
    )

    def placement_of(record: StoredRecord) -> Placement:
        time = corrected[(record.exhibit_id, record.seq, record.table.name)]
        visit = attribute(
            index, exhibit_id=record.exhibit_id, tag=record.tag, at=time.at, basis=time.basis
        )
        return Placement(time.at, time.basis, visit)

    return move(connection, records, placement_of)


def reattribute_visit(
    connection: Connection,
    *,
    visit_id: int,
    exhibit_ids: Iterable[str],
    windows: Iterable[tuple[datetime, datetime]],
) -> int:
    """Re-attribute the records a visit's creation or change may concern.

    ``exhibit_ids`` and ``windows``: the visit's exhibits and windows before and after.
    Records of never-synced boots are left to :func:`fleet_api.store.settle.settle_exhibits`,
    which the caller runs next.
    """
    exhibits = sorted(set(exhibit_ids))
    spans = list(windows)
    by_key: dict[tuple[str, str, int], StoredRecord] = {}

    def keep(found: Iterable[StoredRecord]) -> None:
        for record in found:
            by_key[(record.table.name, record.exhibit_id, record.seq)] = record

    for starts_at, ends_at in spans:
        keep(load_records(connection, _in_window(exhibits, starts_at, ends_at)))
    keep(load_records(connection, lambda t: t.c.visit_id == visit_id))
    keep(load_records(connection, lambda t: t.c.attributed_visit_id == visit_id))
    records = list(by_key.values())
    if not records:
        return 0
    times = [r.placement.at for r in records]
    index = load_index(
        connection,
        exhibit_ids={r.exhibit_id for r in records},
        since=min(times),
        until=max(times),
        visit_ids=_tags(records),
    )

    def placement_of(record: StoredRecord) -> Placement:
        if record.placement.basis is TimeBasis.UNSYNCED:
            return record.placement  # placed by its bounds: store.settle, by the caller
        at = record.placement.at
        visit = attribute(
            index,
            exhibit_id=record.exhibit_id,
            tag=record.tag,
            at=at,
            basis=record.placement.basis,
        )
        return Placement(at, record.placement.basis, visit)

    return move(connection, records, placement_of)


def _unsynced_of_boot(exhibit_id: str, boot_id: str) -> Condition:
    def condition(table: Table) -> ColumnElement[bool]:
        c = table.c
        return (
            (c.exhibit_id == exhibit_id)
            & (c.boot_id == boot_id)
            & (c.time_basis == str(TimeBasis.UNSYNCED))
        )

    return condition


def _in_window(exhibit_ids: list[str], starts_at: datetime, ends_at: datetime) -> Condition:
    def condition(table: Table) -> ColumnElement[bool]:
        c = table.c
        return (
            c.exhibit_id.in_(exhibit_ids)
            & (c.corrected_start >= starts_at)
            & (c.corrected_start < ends_at)
        )

    return condition


def _tags(records: Iterable[StoredRecord]) -> set[int]:
    return {r.tag for r in records if r.tag is not None}
