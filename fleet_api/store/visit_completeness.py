"""How complete one visit's data is, per exhibit: the facts for
:func:`fleet_api.completeness.visit_data_status`, read from the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, case, exists, func, or_, select, union_all

from fleet_api.attribution import TimeBasis
from fleet_api.completeness import DataStatus, SeqRange, gaps, gaps_near, visit_data_status
from fleet_api.models.usage import Completeness, SeqGap
from fleet_api.store.heartbeats import drained_after
from fleet_api.store.seq_ranges import load_ranges
from fleet_api.store.unplaced import UnplacedCount, for_visit
from fleet_api.tables import (
    count_records,
    exhibit_heartbeats,
    exhibit_status,
    exhibits,
    session_records,
)

MAX_GAPS_SHOWN = 20
RECORD_TABLES = (count_records, session_records)


@dataclass
class _VisitSeqs:
    first: int | None = None
    last: int | None = None
    unsynced: int = 0

    def add(self, first: int, last: int, unsynced: int) -> None:
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
        self.unsynced += unsynced


def visit_completeness(
    connection: Connection,
    *,
    visit_id: int,
    starts_at: datetime,
    ends_at: datetime,
    exhibit_ids: Sequence[str],
    now: datetime,
) -> dict[str, Completeness]:
    """Completeness of each exhibit's data for the visit."""
    ranges = load_ranges(connection, exhibit_ids)
    seqs = _visit_seqs(connection, visit_id)
    status_c, beat_c = exhibit_status.c, exhibit_heartbeats.c
    # The latest status and heartbeat of each exhibit, in one round trip (every column
    # read is NOT NULL, so None means no row).
    reported = {
        row.id: row
        for row in connection.execute(
            select(exhibits.c.id, status_c.last_seen_at, beat_c.outbox_depth, beat_c.received_at)
            .select_from(
                exhibits.outerjoin(exhibit_status, status_c.exhibit_id == exhibits.c.id).outerjoin(
                    exhibit_heartbeats, beat_c.exhibit_id == exhibits.c.id
                )
            )
            .where(exhibits.c.id.in_(exhibit_ids))
        ).all()
    }
    ended = now >= ends_at
    relevant_gaps: dict[str, list[SeqRange]] = {}
    bounds: dict[str, int] = {}
    for exhibit_id in exhibit_ids:
        mine = seqs.get(exhibit_id, _VisitSeqs())
        missing = gaps(ranges[exhibit_id])
        if mine.first is not None and mine.last is not None:
            relevant_gaps[exhibit_id] = gaps_near(missing, mine.first, mine.last)
            bounds[exhibit_id] = mine.last
        else:
            before = _seq_before(connection, exhibit_id, starts_at)
            relevant_gaps[exhibit_id] = gaps_near(missing, before + 1, 2**63 - 1)
            bounds[exhibit_id] = before
    later_ones = _later_records(connection, ends_at, bounds) if ended else set()
    unplaced = for_visit(connection, starts_at=starts_at, ends_at=ends_at, exhibit_ids=exhibit_ids)
    result: dict[str, Completeness] = {}
    for exhibit_id in exhibit_ids:
        mine = seqs.get(exhibit_id, _VisitSeqs())
        relevant = relevant_gaps[exhibit_id]
        later = exhibit_id in later_ones
        # Only asked when it decides the status: gaps or a later record already do.
        drained = (
            ended
            and not relevant
            and not later
            and drained_after(connection, exhibit_id=exhibit_id, after=ends_at)
        )
        open_ = unplaced.get(exhibit_id, UnplacedCount())
        status = visit_data_status(
            ended=ended,
            relevant_gaps=relevant,
            later_record=later,
            drained=drained,
            unplaced=open_.records,
        )
        facts = reported.get(exhibit_id)
        result[exhibit_id] = Completeness(
            status=status,
            detail=_detail(status, relevant, later, open_),
            missing_records=sum(gap.size for gap in relevant),
            gaps=[SeqGap(first=g.first, last=g.last) for g in relevant[:MAX_GAPS_SHOWN]],
            max_seq=ranges[exhibit_id][-1].last if ranges[exhibit_id] else None,
            last_seen_at=None if facts is None else facts.last_seen_at,
            outbox_depth=None if facts is None else facts.outbox_depth,
            outbox_reported_at=None if facts is None else facts.received_at,
            unsynced_records=mine.unsynced,
            unplaced_records=open_.records,
            unplaced_interactions=open_.interactions,
        )
    return result


def _visit_seqs(connection: Connection, visit_id: int) -> dict[str, _VisitSeqs]:
    """Seq span and unsynced records per exhibit, over both record tables in one query."""
    parts = []
    for table in RECORD_TABLES:
        c = table.c
        unsynced = func.sum(case((c.time_basis == str(TimeBasis.UNSYNCED), 1), else_=0))
        parts.append(
            select(c.exhibit_id, func.min(c.seq), func.max(c.seq), unsynced)
            .where(c.attributed_visit_id == visit_id)
            .group_by(c.exhibit_id)
        )
    found: dict[str, _VisitSeqs] = {}
    for row in connection.execute(union_all(*parts)).all():
        found.setdefault(row[0], _VisitSeqs()).add(row[1], row[2], int(row[3] or 0))
    return found


def _seq_before(connection: Connection, exhibit_id: str, starts_at: datetime) -> int:
    """The seq of the exhibit's latest record before ``starts_at`` (0 if none)."""
    latest: tuple[datetime, int] | None = None
    for table in RECORD_TABLES:
        c = table.c
        row = connection.execute(
            select(c.corrected_start, c.seq)
            .where(c.exhibit_id == exhibit_id, c.corrected_start < starts_at)
            .order_by(c.corrected_start.desc())
            .limit(1)
        ).first()
        if row is not None and (latest is None or row[0] > latest[0]):
            latest = (row[0], row[1])
    return 0 if latest is None else latest[1]


def _later_records(
    connection: Connection, ends_at: datetime, bounds: Mapping[str, int]
) -> set[str]:
    """The exhibits of which a record made after the visit, with a seq above the exhibit's
    bound, has arrived: one EXISTS per exhibit and table, in one round trip."""
    if not bounds:
        return set()
    ordered = sorted(bounds.items())
    checks = [
        or_(
            *(
                exists().where(
                    table.c.exhibit_id == exhibit_id,
                    table.c.corrected_start >= ends_at,
                    table.c.seq > after,
                )
                for table in RECORD_TABLES
            )
        ).label(f"later_{n}")
        for n, (exhibit_id, after) in enumerate(ordered)
    ]
    row = connection.execute(select(*checks)).one()
    return {exhibit_id for (exhibit_id, _after), found in zip(ordered, row, strict=True) if found}


def _detail(
    status: DataStatus, relevant: Sequence[SeqRange], later: bool, open_: UnplacedCount
) -> str:
    if status is DataStatus.IN_PROGRESS:
        return "the visit has not ended: the numbers will still grow"
    if status is DataStatus.INCOMPLETE:
        missing = sum(gap.size for gap in relevant)
        first = relevant[0]
        where = f"seq {first.first}" if first.size == 1 else f"seq {first.first}-{first.last}"
        more = "" if len(relevant) == 1 else f" and {len(relevant) - 1} more gap(s)"
        return (
            f"{missing} record(s) have not arrived ({where}{more}): they are still on the "
            "exhibit, waiting for a connection, or lost"
        )
    if status is DataStatus.UNPLACED:
        return (
            f"{open_.records} record(s) ({open_.interactions} interactions) may be this "
            "visit's but could not be placed: the exhibit's clock was never synced in their "
            "boot, and what is known of their time also allows another visit or none; "
            "staff can assign them (GET /unplaced)"
        )
    if status is DataStatus.FINAL:
        if later:
            return "final: records made after the visit have arrived, and none before is missing"
        return "final: after the visit the exhibit reported an empty outbox"
    return (
        "nothing is known to be missing, but the exhibit has not reported since the visit "
        "ended: records may still be waiting on it"
    )
