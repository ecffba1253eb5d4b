"""Reports over a period, from the rollups: usage per group, and the funder report.

The visits of a period are those starting in ``[start, end)``. Their interactions and
sessions come from ``visit_exhibit_totals`` (one row per visit and exhibit, however many
records the visits have); the rest is visits, schools and exhibits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Select, func, select

from fleet_api.models.reports import (
    ExhibitRank,
    FunderReport,
    FunderTotals,
    GroupBy,
    Period,
    ReachRow,
    UsageReport,
    UsageRow,
    VisitLine,
)
from fleet_api.tables import (
    UNASSIGNED,
    exhibits,
    schools,
    usage_hourly,
    visit_exhibit_totals,
    visit_exhibits,
    visits,
)


@dataclass
class _Visit:
    line: VisitLine
    # Interactions and sessions per member exhibit of this visit.
    by_exhibit: dict[str, tuple[int, int]] = field(default_factory=dict)


def _visit_ids(start: datetime | None, end: datetime | None) -> Select[tuple[int]]:
    statement = select(visits.c.id)
    if start is not None:
        statement = statement.where(visits.c.starts_at >= start)
    if end is not None:
        statement = statement.where(visits.c.starts_at < end)
    return statement


def _visits(connection: Connection, start: datetime | None, end: datetime | None) -> list[_Visit]:
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
    found = []
    for row in (
        connection.execute(
            select(
                visits,
                schools.c.name.label("school"),
                schools.c.municipality,
                schools.c.region,
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
        line = VisitLine(
            visit_id=row["id"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            school_id=row["school_id"],
            school=row["school"],
            municipality=row["municipality"],
            region=row["region"],
            area=row["area"],
            pupils=row["pupils"],
            grades=row["grades"],
            staff=row["staff"],
            programme=row["programme"],
            exhibit_ids=members[row["id"]],
            interactions=interactions,
            sessions=sessions,
        )
        found.append(_Visit(line, per_exhibit[row["id"]]))
    return found


@dataclass
class _Tally:
    visits: int = 0
    schools: set[int] = field(default_factory=set)
    pupils: int = 0
    interactions: int = 0
    sessions: int = 0

    def add(self, line: VisitLine, interactions: int, sessions: int) -> None:
        self.visits += 1
        self.schools.add(line.school_id)
        self.pupils += line.pupils or 0
        self.interactions += interactions
        self.sessions += sessions


def _tally(
    found: Iterable[_Visit], key: Callable[[VisitLine], tuple[str, ...]]
) -> dict[tuple[str, ...], _Tally]:
    tallies: defaultdict[tuple[str, ...], _Tally] = defaultdict(_Tally)
    for visit in found:
        tallies[key(visit.line)].add(visit.line, visit.line.interactions, visit.line.sessions)
    return tallies


def usage_report(
    connection: Connection, *, group_by: GroupBy, start: datetime | None, end: datetime | None
) -> UsageReport:
    """Usage of the period's visits rolled up by ``group_by``."""
    found = _visits(connection, start, end)
    rows: list[UsageRow]
    if group_by is GroupBy.EXHIBIT:
        rows = _by_exhibit(connection, found, start, end)
    else:
        rows = [_usage_row(group_by, key, tally) for key, tally in _group(found, group_by)]
    if group_by is GroupBy.MONTH:
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (row.label.casefold(), row.key))
    return UsageReport(group_by=group_by, period=Period(from_=start, to=end), rows=rows)


def _group(found: list[_Visit], group_by: GroupBy) -> Iterable[tuple[tuple[str, ...], _Tally]]:
    keys: dict[GroupBy, Callable[[VisitLine], tuple[str, ...]]] = {
        GroupBy.SCHOOL: lambda v: (str(v.school_id), v.school, v.municipality, v.region),
        GroupBy.MUNICIPALITY: lambda v: (v.municipality, v.region),
        GroupBy.REGION: lambda v: (v.region,),
        GroupBy.MONTH: lambda v: (v.starts_at.strftime("%Y-%m"),),
    }
    return _tally(found, keys[group_by]).items()


def _usage_row(group_by: GroupBy, key: tuple[str, ...], tally: _Tally) -> UsageRow:
    common = {
        "visits": tally.visits,
        "schools": len(tally.schools),
        "pupils": tally.pupils,
        "interactions": tally.interactions,
        "sessions": tally.sessions,
    }
    if group_by is GroupBy.SCHOOL:
        school_id, name, municipality, region = key
        return UsageRow(
            key=school_id, label=name, municipality=municipality, region=region, **common
        )
    if group_by is GroupBy.MUNICIPALITY:
        municipality, region = key
        return UsageRow(
            key=municipality,
            label=municipality,
            municipality=municipality,
            region=region,
            **common,
        )
    if group_by is GroupBy.REGION:
        return UsageRow(key=key[0], label=key[0], region=key[0], **common)
    return UsageRow(key=key[0], label=key[0], **common)


def _by_exhibit(
    connection: Connection, found: list[_Visit], start: datetime | None, end: datetime | None
) -> list[UsageRow]:
    tallies: defaultdict[str, _Tally] = defaultdict(_Tally)
    for visit in found:
        for exhibit_id in visit.line.exhibit_ids:
            interactions, sessions = visit.by_exhibit.get(exhibit_id, (0, 0))
            tallies[exhibit_id].add(visit.line, interactions, sessions)
    unassigned = select(usage_hourly.c.exhibit_id, func.sum(usage_hourly.c.count)).where(
        usage_hourly.c.visit_id == UNASSIGNED
    )
    if start is not None:
        unassigned = unassigned.where(usage_hourly.c.hour >= start)
    if end is not None:
        unassigned = unassigned.where(usage_hourly.c.hour < end)
    outside = {
        exhibit_id: int(total or 0)
        for exhibit_id, total in connection.execute(unassigned.group_by(usage_hourly.c.exhibit_id))
    }
    names = dict(connection.execute(select(exhibits.c.id, exhibits.c.name)).all())
    return [
        UsageRow(
            key=exhibit_id,
            label=names.get(exhibit_id, exhibit_id),
            visits=tally.visits,
            schools=len(tally.schools),
            pupils=tally.pupils,
            interactions=tally.interactions,
            sessions=tally.sessions,
            unassigned_interactions=outside.get(exhibit_id, 0),
        )
        for exhibit_id, tally in (
            (e, tallies.get(e, _Tally())) for e in sorted(set(tallies) | set(outside))
        )
    ]


def funder_report(
    connection: Connection, *, start: datetime | None, end: datetime | None
) -> FunderReport:
    """Reach and use of the period's visits, the exhibit ranking, and the visits."""
    found = _visits(connection, start, end)
    lines = [visit.line for visit in found]
    areas = {line.school_id: line.area for line in lines}
    totals = FunderTotals(
        visits=len(lines),
        schools=len(areas),
        municipalities=len({(line.region, line.municipality) for line in lines}),
        regions=len({line.region for line in lines}),
        rural_schools=sum(1 for area in areas.values() if area == "rural"),
        urban_schools=sum(1 for area in areas.values() if area == "urban"),
        pupils=sum(line.pupils or 0 for line in lines),
        visits_without_pupils=sum(1 for line in lines if line.pupils is None),
        interactions=sum(line.interactions for line in lines),
        sessions=sum(line.sessions for line in lines),
    )
    regions = [
        _reach(region, None, tally)
        for (region,), tally in _tally(found, lambda v: (v.region,)).items()
    ]
    municipalities = [
        _reach(region, municipality, tally)
        for (region, municipality), tally in _tally(
            found, lambda v: (v.region, v.municipality)
        ).items()
    ]
    ranking = _by_exhibit(connection, found, start, end)
    ranking = [row for row in ranking if row.visits]
    ranking.sort(key=lambda row: (-row.interactions, -row.sessions, row.key))
    return FunderReport(
        period=Period(from_=start, to=end),
        totals=totals,
        regions=sorted(regions, key=lambda r: r.region.casefold()),
        municipalities=sorted(
            municipalities, key=lambda r: (r.region.casefold(), (r.municipality or "").casefold())
        ),
        exhibits=[
            ExhibitRank(
                rank=position,
                exhibit_id=row.key,
                name=row.label,
                visits=row.visits,
                interactions=row.interactions,
                sessions=row.sessions,
                interactions_per_visit=round(row.interactions / row.visits, 3),
            )
            for position, row in enumerate(ranking, start=1)
        ],
        visits=lines,
    )


def _reach(region: str, municipality: str | None, tally: _Tally) -> ReachRow:
    return ReachRow(
        region=region,
        municipality=municipality,
        visits=tally.visits,
        schools=len(tally.schools),
        pupils=tally.pupils,
        interactions=tally.interactions,
        sessions=tally.sessions,
    )
