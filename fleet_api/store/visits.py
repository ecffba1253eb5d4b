"""Visits: schedule, read, list. An exhibit is in at most one visit at any moment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_api.errors import ExhibitBooked, UnknownReference, UnknownVisit
from fleet_api.models.visits import VisitCreate, VisitPublic
from fleet_api.tables import exhibits, schools, visit_exhibits, visits


def create_visit(session: Session, *, visit: VisitCreate) -> VisitPublic:
    """Store ``visit``; UnknownReference for a missing school/exhibit, ExhibitBooked on overlap."""
    if session.execute(select(schools.c.id).where(schools.c.id == visit.school_id)).first() is None:
        raise UnknownReference(f"school {visit.school_id} does not exist")
    # FOR UPDATE (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers) makes
    # two concurrent bookings of one exhibit wait for each other, so the overlap check
    # below cannot pass for both.
    found = set(
        session.execute(
            select(exhibits.c.id).where(exhibits.c.id.in_(visit.exhibit_ids)).with_for_update()
        ).scalars()
    )
    missing = sorted(set(visit.exhibit_ids) - found)
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise UnknownReference(
            f"exhibit {names} is not registered"
            if len(missing) == 1
            else f"exhibits {names} are not registered"
        )
    _refuse_overlap(session, visit)
    new_id = session.execute(
        visits.insert()
        .values(school_id=visit.school_id, starts_at=visit.starts_at, ends_at=visit.ends_at)
        .returning(visits.c.id)
    ).scalar_one()
    session.execute(
        visit_exhibits.insert(),
        [{"visit_id": new_id, "exhibit_id": exhibit_id} for exhibit_id in visit.exhibit_ids],
    )
    session.commit()
    return VisitPublic(
        id=new_id,
        school_id=visit.school_id,
        starts_at=visit.starts_at,
        ends_at=visit.ends_at,
        exhibit_ids=sorted(visit.exhibit_ids),
    )


def _refuse_overlap(session: Session, visit: VisitCreate) -> None:
    # Untagged records are attributed by time: an exhibit in two overlapping visits
    # would have its interactions counted in both.
    clash = session.execute(
        select(visit_exhibits.c.exhibit_id, visits.c.id, visits.c.starts_at, visits.c.ends_at)
        .join(visits, visits.c.id == visit_exhibits.c.visit_id)
        .where(
            visit_exhibits.c.exhibit_id.in_(visit.exhibit_ids),
            visits.c.starts_at < visit.ends_at,
            visits.c.ends_at > visit.starts_at,
        )
        .order_by(visit_exhibits.c.exhibit_id, visits.c.starts_at)
    ).first()
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


def list_visits(session: Session, *, limit: int, offset: int = 0) -> list[VisitPublic]:
    """Visits ordered by start time, then id."""
    ids = (
        session.execute(
            select(visits.c.id)
            .order_by(visits.c.starts_at, visits.c.id)
            .limit(limit)
            .offset(offset)
        )
        .scalars()
        .all()
    )
    return _load(session, ids)


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
        VisitPublic(
            id=rows[visit_id].id,
            school_id=rows[visit_id].school_id,
            starts_at=rows[visit_id].starts_at,
            ends_at=rows[visit_id].ends_at,
            exhibit_ids=members[visit_id],
        )
        for visit_id in ids
        if visit_id in rows
    ]
