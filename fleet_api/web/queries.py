"""Read-only queries the pages need and no data-access function of ``store/`` gives.

All of them read the hourly rollups (``usage_hourly``, ``session_hourly``) that
ingestion keeps current, so they cost one grouped read each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from fleet_api.tables import schools, session_hourly, usage_hourly, visit_exhibits, visits


def interactions_by_exhibit(
    connection: Connection, *, start: datetime, end: datetime
) -> dict[str, int]:
    """Interactions per exhibit in UTC hours within [start, end), in a visit or not."""
    c = usage_hourly.c
    rows = connection.execute(
        select(c.exhibit_id, func.sum(c.count))
        .where(c.hour >= start, c.hour < end)
        .group_by(c.exhibit_id)
    )
    return {exhibit_id: int(total or 0) for exhibit_id, total in rows}


@dataclass(frozen=True, slots=True)
class SchoolName:
    """How a page names a school."""

    id: int
    name: str
    municipality: str
    region: str


def school_names(connection: Connection, school_ids: Iterable[int]) -> dict[int, SchoolName]:
    """The schools with these ids, by id."""
    wanted = sorted(set(school_ids))
    if not wanted:
        return {}
    rows = connection.execute(
        select(schools.c.id, schools.c.name, schools.c.municipality, schools.c.region).where(
            schools.c.id.in_(wanted)
        )
    )
    return {row.id: SchoolName(row.id, row.name, row.municipality, row.region) for row in rows}


@dataclass(frozen=True, slots=True)
class ExhibitVisit:
    """One visit an exhibit went on, with what it counted there."""

    visit_id: int
    starts_at: datetime
    ends_at: datetime
    school: str
    municipality: str
    pupils: int | None
    interactions: int
    sessions: int


def exhibit_visits(connection: Connection, *, exhibit_id: str, limit: int) -> list[ExhibitVisit]:
    """The latest ``limit`` visits that took the exhibit, newest first, with its usage."""
    rows = connection.execute(
        select(
            visits.c.id,
            visits.c.starts_at,
            visits.c.ends_at,
            visits.c.pupils,
            schools.c.name,
            schools.c.municipality,
        )
        .join(visit_exhibits, visit_exhibits.c.visit_id == visits.c.id)
        .join(schools, schools.c.id == visits.c.school_id)
        .where(visit_exhibits.c.exhibit_id == exhibit_id)
        .order_by(visits.c.starts_at.desc(), visits.c.id.desc())
        .limit(limit)
    ).all()
    ids = [row.id for row in rows]
    counts = _sums(connection, exhibit_id, ids, sessions=False)
    sessions = _sums(connection, exhibit_id, ids, sessions=True)
    return [
        ExhibitVisit(
            visit_id=row.id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            school=row.name,
            municipality=row.municipality,
            pupils=row.pupils,
            interactions=counts.get(row.id, 0),
            sessions=sessions.get(row.id, 0),
        )
        for row in rows
    ]


def _sums(
    connection: Connection, exhibit_id: str, visit_ids: list[int], *, sessions: bool
) -> dict[int, int]:
    """Interactions (or sessions) of the exhibit per visit."""
    if not visit_ids:
        return {}
    table = session_hourly if sessions else usage_hourly
    column = table.c.sessions if sessions else table.c.count
    rows = connection.execute(
        select(table.c.visit_id, func.sum(column))
        .where(table.c.exhibit_id == exhibit_id, table.c.visit_id.in_(visit_ids))
        .group_by(table.c.visit_id)
    )
    return {visit_id: int(total or 0) for visit_id, total in rows}
