"""Visits: schedule, read, list. An exhibit is in at most one visit at any moment.

Changes and check-out/check-in state: :mod:`fleet_api.store.visit_changes`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from fleet_api.errors import ExhibitBooked, UnknownReference, UnknownVisit
from fleet_api.models.visits import VisitCreate, VisitPublic
from fleet_api.store.reattribution import reattribute_visit
from fleet_api.tables import exhibits, schools, visit_exhibits, visits


def create_visit(session: Session, *, visit: VisitCreate) -> VisitPublic:
    """Store ``visit``; UnknownReference for a missing school/exhibit, ExhibitBooked on overlap.

    Records already stored that now belong to it (its exhibits' records in its window)
    are attributed to it in the same transaction.
    """
    require_school(session, visit.school_id)
    lock_exhibits(session, visit.exhibit_ids)
    refuse_overlap(
        session, exhibit_ids=visit.exhibit_ids, starts_at=visit.starts_at, ends_at=visit.ends_at
    )
    new_id = session.execute(
        visits.insert().values(**visit.model_dump(exclude={"exhibit_ids"})).returning(visits.c.id)
    ).scalar_one()
    session.execute(
        visit_exhibits.insert(),
        [{"visit_id": new_id, "exhibit_id": exhibit_id} for exhibit_id in visit.exhibit_ids],
    )
    reattribute_visit(
        session.connection(),
        visit_id=new_id,
        exhibit_ids=visit.exhibit_ids,
        windows=[(visit.starts_at, visit.ends_at)],
    )
    session.commit()
    return get_visit(session, visit_id=new_id)


def require_school(session: Session, school_id: int) -> None:
    """UnknownReference unless school ``school_id`` exists."""
    if session.execute(select(schools.c.id).where(schools.c.id == school_id)).first() is None:
        raise UnknownReference(f"school {school_id} does not exist")


def lock_exhibits(session: Session, exhibit_ids: Sequence[str]) -> None:
    """Lock the exhibits until the commit; UnknownReference names any not registered.

    FOR UPDATE (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers) makes
    two bookings of one exhibit, or a booking and the ingestion of its records, wait for
    each other. Locking in id order, as ingestion does, rules out deadlocks.
    """
    found = set(
        session.execute(
            select(exhibits.c.id)
            .where(exhibits.c.id.in_(sorted(set(exhibit_ids))))
            .order_by(exhibits.c.id)
            .with_for_update()
        ).scalars()
    )
    missing = sorted(set(exhibit_ids) - found)
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise UnknownReference(
            f"exhibit {names} is not registered"
            if len(missing) == 1
            else f"exhibits {names} are not registered"
        )


def refuse_overlap(
    session: Session,
    *,
    exhibit_ids: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
    except_visit: int | None = None,
) -> None:
    """ExhibitBooked if one of ``exhibit_ids`` is in another visit overlapping the window."""
    # Untagged records are attributed by time: an exhibit in two overlapping visits
    # would have its interactions counted in both.
    statement = (
        select(visit_exhibits.c.exhibit_id, visits.c.id, visits.c.starts_at, visits.c.ends_at)
        .join(visits, visits.c.id == visit_exhibits.c.visit_id)
        .where(
            visit_exhibits.c.exhibit_id.in_(exhibit_ids),
            visits.c.starts_at < ends_at,
            visits.c.ends_at > starts_at,
        )
        .order_by(visit_exhibits.c.exhibit_id, visits.c.starts_at)
    )
    if except_visit is not None:
        statement = statement.where(visits.c.id != except_visit)
    clash = session.execute(statement).first()
    if clash is not None:
        raise ExhibitBooked(
            f"exhibit {clash.exhibit_id!r} is already in visit {clash.id} from "
            f"{clash.starts_at.isoformat()} to {clash.ends_at.isoformat()}"
        )


def get_visit(session: Session, *, visit_id: int) -> VisitPublic:
    """The visit with ``visit_id``; UnknownVisit if there is none."""
    found = _load(session, [visit_id])
    if not found:
        raise UnknownVisit(f"visit {visit_id} does not exist")
    return found[0]


def list_visits(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[VisitPublic]:
    """Visits overlapping [start, end) (either may be open), by start time, then id."""
    ids = (
        session.execute(
            select(visits.c.id)
            .where(*_overlapping(start, end))
            .order_by(visits.c.starts_at, visits.c.id)
            .limit(limit)
            .offset(offset)
        )
        .scalars()
        .all()
    )
    return _load(session, ids)


def count_visits(
    session: Session, *, start: datetime | None = None, end: datetime | None = None
) -> int:
    """How many visits overlap [start, end)."""
    statement = select(func.count()).select_from(visits).where(*_overlapping(start, end))
    return session.execute(statement).scalar_one()


def _overlapping(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    conditions = []
    if start is not None:
        conditions.append(visits.c.ends_at > start)
    if end is not None:
        conditions.append(visits.c.starts_at < end)
    return conditions


def _load(session: Session, ids: Sequence[int]) -> list[VisitPublic]:
    if not ids:
        return []
    members: defaultdict[int, list[str]] = defaultdict(list)
    for link in session.execute(
        select(visit_exhibits)
        .where(visit_exhibits.c.visit_id.in_(ids))
        .order_by(visit_exhibits.c.exhibit_id)
    ):
        members[link.visit_id].append(link.exhibit_id)
    rows = {row.id: row for row in session.execute(select(visits).where(visits.c.id.in_(ids)))}
    return [
        VisitPublic(**rows[visit_id]._mapping, exhibit_ids=members[visit_id])
        for visit_id in ids
        if visit_id in rows
    ]
