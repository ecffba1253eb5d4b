"""Unplaced records: what their bounds leave open, shown to staff, placed by staff.

A record of a never-synced boot whose bounds allow more than one place, and whose tag
does not decide, is *unplaced* (:mod:`fleet_api.bounds`, kept by
:mod:`fleet_api.store.settle` in ``record_bounds``). It counts in no visit. Every visit
whose window its bounds meet is a *candidate*: that visit's completeness says how many
such records there are (never ``final`` while any is unassigned), and so does fleet
health per exhibit. Staff may assign one to a candidate visit, or undo that; the change
is recorded in the audit log with who and when, and the record is re-settled in the
same transaction (its rollup contribution moves with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, func, or_, select, update

from fleet_api.bounds import Bounds, candidates
from fleet_api.errors import NotACandidate, UnknownRecord
from fleet_api.store.audit import Actor, record_change
from fleet_api.store.settle import settle_exhibits
from fleet_api.store.windows import load_index
from fleet_api.tables import count_records, session_records
from fleet_api.tables_bounds import record_bounds

b = record_bounds.c


@dataclass(frozen=True, slots=True)
class UnplacedRecord:
    """One record its bounds cannot place, as ``GET /unplaced`` lists it."""

    exhibit_id: str
    seq: int
    kind: str
    input: str | None
    interactions: int
    boot_id: str
    wall_start: datetime
    received_at: datetime
    earliest: datetime | None
    latest: datetime | None
    candidate_visit_ids: list[int]
    outside_visits_possible: bool
    assigned_visit_id: int | None
    assigned_by: str | None
    assigned_at: datetime | None


@dataclass(frozen=True, slots=True)
class UnplacedCount:
    """Unassigned unplaced records of one exhibit: how many, their interactions."""

    records: int = 0
    interactions: int = 0


def _meets(starts_at: datetime, ends_at: datetime) -> ColumnElement[bool]:
    """Bounds rows whose bounds meet the window ``[starts_at, ends_at)``."""
    return and_(
        or_(b.latest.is_(None), b.latest >= starts_at),
        or_(b.earliest.is_(None), b.earliest < ends_at),
    )


def for_visit(
    connection: Connection, *, starts_at: datetime, ends_at: datetime, exhibit_ids: Sequence[str]
) -> dict[str, UnplacedCount]:
    """Unassigned unplaced records that may be this visit's, per exhibit of the visit."""
    if not exhibit_ids:
        return {}
    c = count_records.c
    rows = connection.execute(
        select(b.exhibit_id, func.count(), func.coalesce(func.sum(c.count), 0))
        .select_from(
            record_bounds.outerjoin(
                count_records, and_(c.exhibit_id == b.exhibit_id, c.seq == b.seq)
            )
        )
        .where(
            b.exhibit_id.in_(sorted(exhibit_ids)),
            b.unplaced.is_(True),
            b.assigned_visit_id.is_(None),
            _meets(starts_at, ends_at),
        )
        .group_by(b.exhibit_id)
    ).all()
    # A session record adds a record, not interactions: its presses are in count records.
    return {row[0]: UnplacedCount(int(row[1]), int(row[2])) for row in rows}


def by_exhibit(connection: Connection) -> dict[str, tuple[UnplacedCount, list[int]]]:
    """Every exhibit with unassigned unplaced records: how many, and the candidate visits."""
    c = count_records.c
    rows = connection.execute(
        select(b.exhibit_id, b.earliest, b.latest, c.count)
        .select_from(
            record_bounds.outerjoin(
                count_records, and_(c.exhibit_id == b.exhibit_id, c.seq == b.seq)
            )
        )
        .where(b.unplaced.is_(True), b.assigned_visit_id.is_(None))
    ).all()
    grouped: dict[str, list[tuple[datetime | None, datetime | None, int]]] = {}
    for exhibit_id, earliest, latest, count in rows:
        grouped.setdefault(exhibit_id, []).append((earliest, latest, int(count or 0)))
    result: dict[str, tuple[UnplacedCount, list[int]]] = {}
    for exhibit_id, items in sorted(grouped.items()):
        index = load_index(connection, exhibit_ids={exhibit_id})
        visits: set[int] = set()
        for earliest, latest, _count in items:
            windows, _outside = candidates(index, exhibit_id, Bounds(earliest, latest))
            visits.update(w.id for w in windows)
        total = UnplacedCount(len(items), sum(item[2] for item in items))
        result[exhibit_id] = (total, sorted(visits))
    return result


def list_unplaced(
    connection: Connection,
    *,
    exhibit_id: str | None = None,
    visit_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[UnplacedRecord]]:
    """Unplaced records (staff-assigned ones too, so that they can be undone), by exhibit
    and seq; ``visit_id``: only those with that visit among their candidates."""
    statement = select(record_bounds).where(b.unplaced.is_(True))
    if exhibit_id is not None:
        statement = statement.where(b.exhibit_id == exhibit_id)
    rows = connection.execute(statement.order_by(b.exhibit_id, b.seq)).all()
    indexes = {
        e: load_index(connection, exhibit_ids={e}) for e in sorted({row.exhibit_id for row in rows})
    }
    found: list[UnplacedRecord] = []
    matching = 0
    for row in rows:
        windows, outside = candidates(
            indexes[row.exhibit_id], row.exhibit_id, Bounds(row.earliest, row.latest)
        )
        ids = [w.id for w in windows]
        if visit_id is not None and visit_id not in ids:
            continue
        matching += 1
        if matching <= offset or len(found) >= limit:
            continue
        found.append(_describe(connection, row, ids, outside))
    return matching, found


def _describe(
    connection: Connection, row: Row[Any], ids: list[int], outside: bool
) -> UnplacedRecord:
    c = count_records.c
    counted = connection.execute(
        select(c.input, c.count, c.boot_id, c.start, c.received_at).where(
            c.exhibit_id == row.exhibit_id, c.seq == row.seq
        )
    ).first()
    if counted is not None:
        kind, name, amount, boot, start, received = "count", counted[0], counted[1], *counted[2:]
    else:
        s = session_records.c
        found = connection.execute(
            select(s.interactions, s.boot_id, s.start, s.received_at).where(
                s.exhibit_id == row.exhibit_id, s.seq == row.seq
            )
        ).one()
        kind, name, amount, boot, start, received = "session", None, found[0], *found[1:]
    return UnplacedRecord(
        exhibit_id=row.exhibit_id,
        seq=row.seq,
        kind=kind,
        input=name,
        interactions=int(amount),
        boot_id=boot,
        wall_start=start,
        received_at=received,
        earliest=row.earliest,
        latest=row.latest,
        candidate_visit_ids=ids,
        outside_visits_possible=outside,
        assigned_visit_id=row.assigned_visit_id,
        assigned_by=row.assigned_by,
        assigned_at=row.assigned_at,
    )


def assign(
    connection: Connection,
    *,
    exhibit_id: str,
    seqs: Iterable[int],
    visit_id: int | None,
    actor: Actor,
    now: datetime,
) -> int:
    """Assign unplaced records to ``visit_id`` (None: undo); how many changed.

    UnknownRecord if a seq is not an unplaced record of the exhibit; VisitConflict if
    the visit is not a candidate of every one of them.
    """
    wanted = sorted(set(seqs))
    rows = connection.execute(
        select(record_bounds).where(
            b.exhibit_id == exhibit_id, b.seq.in_(wanted), b.unplaced.is_(True)
        )
    ).all()
    missing = sorted(set(wanted) - {row.seq for row in rows})
    if missing:
        raise UnknownRecord(
            f"exhibit {exhibit_id!r} has no unplaced record with seq "
            + ", ".join(str(seq) for seq in missing[:10])
        )
    if visit_id is not None:
        index = load_index(connection, exhibit_ids={exhibit_id})
        for row in rows:
            windows, _ = candidates(index, exhibit_id, Bounds(row.earliest, row.latest))
            if visit_id not in {w.id for w in windows}:
                raise NotACandidate(
                    f"visit {visit_id} is not a candidate of seq {row.seq}: its bounds "
                    f"({_when(row.earliest)} to {_when(row.latest)}) do not meet the visit"
                )
    changed = [row for row in rows if row.assigned_visit_id != visit_id]
    if not changed:
        return 0
    who = f"{actor.name} ({actor.role or actor.via})"
    connection.execute(
        update(record_bounds)
        .where(b.exhibit_id == exhibit_id, b.seq.in_([row.seq for row in changed]))
        .values(
            assigned_visit_id=visit_id,
            assigned_by=None if visit_id is None else who,
            assigned_at=None if visit_id is None else now,
        )
    )
    record_change(
        connection,
        actor=actor,
        action="unplaced.assign" if visit_id is not None else "unplaced.unassign",
        entity="exhibit",
        entity_id=exhibit_id,
        before={
            "seqs": [row.seq for row in changed],
            "visits": [row.assigned_visit_id for row in changed],
        },
        after={"seqs": [row.seq for row in changed], "visit": visit_id},
        at=now,
    )
    settle_exhibits(connection, [exhibit_id])
    return len(changed)


def _when(at: datetime | None) -> str:
    return "unbounded" if at is None else at.isoformat()


@dataclass(frozen=True, slots=True)
class UnplacedHere:
    """One exhibit's records that may belong to a visit: still open, and placed here by staff."""

    open_seqs: list[int]
    open_interactions: int
    assigned_seqs: list[int]
    assigned_interactions: int


def unplaced_here(connection: Connection, visit_id: int) -> dict[str, UnplacedHere]:
    """Per exhibit, the unplaced records with ``visit_id`` among their candidates."""
    _, records = list_unplaced(connection, visit_id=visit_id, limit=10**9)
    found: dict[str, tuple[list[int], int, list[int], int]] = {}
    for record in records:
        open_seqs, open_n, mine, mine_n = found.get(record.exhibit_id, ([], 0, [], 0))
        if record.assigned_visit_id is None:
            open_seqs.append(record.seq)
            open_n += record.interactions
        elif record.assigned_visit_id == visit_id:
            mine.append(record.seq)
            mine_n += record.interactions
        found[record.exhibit_id] = (open_seqs, open_n, mine, mine_n)
    return {
        exhibit: UnplacedHere(*parts) for exhibit, parts in found.items() if parts[0] or parts[2]
    }
