"""Visits: schedule, read, list. An exhibit is in at most one visit at any moment.

Changes, status and check-out/check-in state: :mod:`fleet_api.store.visit_changes`.
Every change is recorded in the audit trail (:mod:`fleet_api.store.audit`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from broker.messages import utc_now
from fleet_api.errors import ExhibitBooked, UnknownReference, UnknownVisit
from fleet_api.models.visits import VisitCreate, VisitPublic, effective_status
from fleet_api.store.audit import Actor, record_change, snapshot
from fleet_api.store.reattribution import reattribute_visit
from fleet_api.store.settle import settle_exhibits
from fleet_api.tables import exhibits, schools, visit_exhibits, visits
from fleet_api.tables_domain import programmes, visit_programmes


def create_visit(
    session: Session, *, visit: VisitCreate, actor: Actor, now: datetime | None = None
) -> VisitPublic:
    """Store ``visit``; UnknownReference for a missing (or archived, retired) school,
    exhibit or programme, ExhibitBooked on overlap.

    Records already stored that now belong to it (its exhibits' records in its window)
    are attributed to it in the same transaction.
    """
    require_school(session, visit.school_id)
    require_programmes(session, visit.programme_ids)
    lock_exhibits(session, visit.exhibit_ids, in_service=True)
    refuse_overlap(
        session, exhibit_ids=visit.exhibit_ids, starts_at=visit.starts_at, ends_at=visit.ends_at
    )
    new_id = session.execute(
        visits.insert()
        .values(**visit.model_dump(exclude={"exhibit_ids", "programme_ids"}))
        .returning(visits.c.id)
    ).scalar_one()
    session.execute(
        visit_exhibits.insert(),
        [{"visit_id": new_id, "exhibit_id": exhibit_id} for exhibit_id in visit.exhibit_ids],
    )
    link_programmes(session, new_id, visit.programme_ids)
    reattribute_visit(
        session.connection(),
        visit_id=new_id,
        exhibit_ids=visit.exhibit_ids,
        windows=[(visit.starts_at, visit.ends_at)],
    )
    settle_exhibits(session.connection(), visit.exhibit_ids)
    created = get_visit(session, visit_id=new_id, now=now)
    record_change(
        session.connection(),
        actor=actor,
        action="visit.create",
        entity="visit",
        entity_id=new_id,
        after=_audited(created),
        at=now,
    )
    session.commit()
    return created


def _audited(visit: VisitPublic) -> dict[str, object] | None:
    # The stored facts, not the status of the moment (a planned visit turns held by itself).
    return snapshot(visit.model_dump(exclude={"status"}))


def require_school(session: Session, school_id: int) -> None:
    """UnknownReference unless school ``school_id`` exists and is not archived."""
    row = session.execute(
        select(schools.c.id, schools.c.archived_at).where(schools.c.id == school_id)
    ).first()
    if row is None:
        raise UnknownReference(f"school {school_id} does not exist")
    if row.archived_at is not None:
        raise UnknownReference(f"school {school_id} is archived: restore it first")


def require_programmes(session: Session, programme_ids: Sequence[int]) -> None:
    """UnknownReference unless every programme exists and is not archived."""
    if not programme_ids:
        return
    found = {
        row.id: row.archived_at
        for row in session.execute(
            select(programmes.c.id, programmes.c.archived_at).where(
                programmes.c.id.in_(sorted(set(programme_ids)))
            )
        )
    }
    missing = sorted(set(programme_ids) - set(found))
    if missing:
        raise UnknownReference(f"programme {', '.join(map(str, missing))} does not exist")
    archived = sorted(p for p, at in found.items() if at is not None)
    if archived:
        raise UnknownReference(f"programme {', '.join(map(str, archived))} is archived")


def link_programmes(session: Session, visit_id: int, programme_ids: Sequence[int]) -> None:
    """Make ``programme_ids`` the programmes the visit delivers (no commit)."""
    session.execute(visit_programmes.delete().where(visit_programmes.c.visit_id == visit_id))
    if programme_ids:
        session.execute(
            visit_programmes.insert(),
            [{"visit_id": visit_id, "programme_id": p} for p in sorted(set(programme_ids))],
        )


def lock_exhibits(
    session: Session, exhibit_ids: Sequence[str], *, in_service: Sequence[str] | bool = False
) -> None:
    """Lock the exhibits until the commit; UnknownReference names any not registered, and
    any retired one among ``in_service`` (all of them if True).

    FOR UPDATE (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers) makes
    two bookings of one exhibit, or a booking and the ingestion of its records, wait for
    each other. Locking in id order, as ingestion does, rules out deadlocks.
    """
    rows = session.execute(
        select(exhibits.c.id, exhibits.c.retired_at)
        .where(exhibits.c.id.in_(sorted(set(exhibit_ids))))
        .order_by(exhibits.c.id)
        .with_for_update()
    ).all()
    found = {row.id for row in rows}
    missing = sorted(set(exhibit_ids) - found)
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise UnknownReference(
            f"exhibit {names} is not registered"
            if len(missing) == 1
            else f"exhibits {names} are not registered"
        )
    wanted = set(exhibit_ids) if in_service is True else set(in_service or ())
    retired = sorted(row.id for row in rows if row.retired_at is not None and row.id in wanted)
    if retired:
        raise UnknownReference(f"exhibit {', '.join(map(repr, retired))} is retired")


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
            f"{clash.starts_at.isoformat()} to {clash.ends_at.isoformat()}",
            exhibit_id=clash.exhibit_id,
            visit_id=clash.id,
            starts_at=clash.starts_at,
            ends_at=clash.ends_at,
        )


def get_visit(session: Session, *, visit_id: int, now: datetime | None = None) -> VisitPublic:
    """The visit with ``visit_id``, its status as of ``now``; UnknownVisit if there is none."""
    found = _load(session, [visit_id], now)
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
    now: datetime | None = None,
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
    return _load(session, ids, now)


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


def _load(session: Session, ids: Sequence[int], now: datetime | None) -> list[VisitPublic]:
    if not ids:
        return []
    at = now or utc_now()
    members: defaultdict[int, list[str]] = defaultdict(list)
    for link in session.execute(
        select(visit_exhibits)
        .where(visit_exhibits.c.visit_id.in_(ids))
        .order_by(visit_exhibits.c.exhibit_id)
    ):
        members[link.visit_id].append(link.exhibit_id)
    delivered: defaultdict[int, list[int]] = defaultdict(list)
    for link in session.execute(
        select(visit_programmes)
        .where(visit_programmes.c.visit_id.in_(ids))
        .order_by(visit_programmes.c.programme_id)
    ):
        delivered[link.visit_id].append(link.programme_id)
    rows = {row.id: row for row in session.execute(select(visits).where(visits.c.id.in_(ids)))}
    found = []
    for visit_id in ids:
        if visit_id not in rows:
            continue
        row = dict(rows[visit_id]._mapping)
        row["status"] = effective_status(row["status"], row["ends_at"], at)
        found.append(
            VisitPublic(**row, exhibit_ids=members[visit_id], programme_ids=delivered[visit_id])
        )
    return found
