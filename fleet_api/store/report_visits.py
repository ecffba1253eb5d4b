"""The visits a report covers: those starting in ``[start, end)``, with their school,
programmes, status as of ``now`` and their interactions and sessions from the rollups.

Interactions and sessions come from ``visit_exhibit_totals`` (one row per visit and
exhibit, however many records the visits have).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Select, func, select

from fleet_api.models.reports import VisitLine
from fleet_api.models.visits import VisitStatus, effective_status
from fleet_api.store.places import read_places
from fleet_api.tables import schools, session_records, visit_exhibit_totals, visit_exhibits, visits
from fleet_api.tables_domain import programmes, visit_programmes


@dataclass(frozen=True, slots=True)
class Programme:
    """A programme as reports name it."""

    id: int
    name: str
    stem_area: str | None
    grade_min: int | None
    grade_max: int | None


@dataclass
class ReportVisit:
    """One visit of the period: its line, programmes, and use per member exhibit."""

    line: VisitLine
    programmes: list[Programme]
    by_exhibit: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        """Whether it counts: a field trip held."""
        return self.line.status is VisitStatus.HELD


def _visit_ids(start: datetime | None, end: datetime | None) -> Select[tuple[int]]:
    statement = select(visits.c.id)
    if start is not None:
        statement = statement.where(visits.c.starts_at >= start)
    if end is not None:
        statement = statement.where(visits.c.starts_at < end)
    return statement


def report_visits(
    connection: Connection, start: datetime | None, end: datetime | None, now: datetime
) -> list[ReportVisit]:
    """Every visit starting in ``[start, end)``, by start time, with its status at ``now``."""
    ids = _visit_ids(start, end)
    t, member = visit_exhibit_totals.c, visit_exhibits.c
    members: defaultdict[int, list[str]] = defaultdict(list)
    per_exhibit: defaultdict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for visit_id, exhibit_id, interactions, sessions in connection.execute(
        select(member.visit_id, member.exhibit_id, t.interactions, t.sessions)
        .outerjoin(
            visit_exhibit_totals,
            (t.visit_id == member.visit_id) & (t.exhibit_id == member.exhibit_id),
        )
        .where(member.visit_id.in_(ids))
        .order_by(member.exhibit_id)
    ).all():  # a year is thousands of rows: one fetch, not one per row
        members[visit_id].append(exhibit_id)
        per_exhibit[visit_id][exhibit_id] = (interactions or 0, sessions or 0)
    # A visit's own totals also count exhibits that are not (or no longer) its members
    # but whose records are attributed to it (a tag): summed per visit in SQL.
    totals: dict[int, tuple[int, int]] = {
        visit_id: (int(interactions), int(sessions))
        for visit_id, interactions, sessions in connection.execute(
            select(t.visit_id, func.sum(t.interactions), func.sum(t.sessions))
            .where(t.visit_id.in_(ids))
            .group_by(t.visit_id)
        ).all()
    }
    delivered: defaultdict[int, list[Programme]] = defaultdict(list)
    for link in connection.execute(
        select(visit_programmes.c.visit_id, programmes)
        .join(programmes, programmes.c.id == visit_programmes.c.programme_id)
        .where(visit_programmes.c.visit_id.in_(ids))
        .order_by(programmes.c.name)
    ).all():
        delivered[link.visit_id].append(
            Programme(link.id, link.name, link.stem_area, link.grade_min, link.grade_max)
        )
    known = {place.code: place for place in read_places(connection)}
    found = []
    for row in (
        connection.execute(
            select(
                visits,
                schools.c.name.label("school"),
                schools.c.municipality,
                schools.c.region,
                schools.c.municipality_code,
                schools.c.region_code,
                schools.c.area,
            )
            .join(schools, schools.c.id == visits.c.school_id)
            .where(visits.c.id.in_(ids))
            .order_by(visits.c.starts_at, visits.c.id)
        )
        .mappings()
        .all()
    ):
        interactions, sessions = totals.get(row["id"], (0, 0))
        town = known.get(row["municipality_code"] or "")
        area = known.get(row["region_code"] or "")
        line = VisitLine(
            visit_id=row["id"],
            status=effective_status(row["status"], row["ends_at"], now),
            status_reason=row["status_reason"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            school_id=row["school_id"],
            school=row["school"],
            municipality=town.name if town else row["municipality"],
            region=area.label if area else row["region"],
            municipality_code=town.code if town else None,
            region_code=area.code if area else None,
            area=row["area"],
            pupils=row["pupils"],
            teachers=row["teachers"],
            grades=row["grades"],
            staff=row["staff"],
            programmes=[p.name for p in delivered[row["id"]]],
            exhibit_ids=members[row["id"]],
            interactions=interactions,
            sessions=sessions,
        )
        found.append(ReportVisit(line, delivered[row["id"]], per_exhibit[row["id"]]))
    return found


def median_dwell(connection: Connection, visit_ids: Sequence[int]) -> float | None:
    """The median session dwell (seconds) over the records placed in these visits."""
    if not visit_ids:
        return None
    dwell = [
        float(value)
        for (value,) in connection.execute(
            select(session_records.c.dwell_s).where(
                session_records.c.attributed_visit_id.in_(sorted(set(visit_ids)))
            )
        )
    ]
    return round(statistics.median(dwell), 1) if dwell else None
