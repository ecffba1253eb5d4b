"""Reports over a period: usage per group, and the funder report.

Only field trips held count (:attr:`ReportVisit.held`); planned and cancelled visits of
the period are shown apart. Periods (months, quarters, years, the period's days) are in
the centre's time zone. Each number has its definition in :mod:`fleet_api.indicators`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from fleet_api.indicators import BY_KEY, INDICATORS
from fleet_api.models.reports import (
    ExhibitRank,
    FunderReport,
    FunderTotals,
    GroupBy,
    IndicatorValue,
    Period,
    ProgrammeRow,
    ReachRow,
    UsageReport,
    UsageRow,
    VisitLine,
)
from fleet_api.models.visits import VisitStatus
from fleet_api.store.report_visits import ReportVisit, median_dwell, report_visits
from fleet_api.tables import UNASSIGNED, exhibits, usage_hourly

GRADE_BANDS = ((0, 0, "pre-school"), (1, 3, "1-3"), (4, 6, "4-6"), (7, 9, "7-9"), (10, 12, "10-12"))
USAGE_COLUMNS = (
    "field_trips_held",
    "pupil_participations",
    "teachers_present",
    "interactions",
    "sessions",
)
_NOTES = {
    GroupBy.PROGRAMME: "A field trip delivering several programmes counts in each of their "
    "rows, so the rows add up to more than the total; 'none': trips with no programme.",
    GroupBy.EXHIBIT: "A field trip counts in the row of every exhibit it took.",
    GroupBy.GRADE_BAND: "A field trip belongs to the band of its grades; 'mixed' if they "
    "span bands, 'unknown' if none were recorded.",
}


def period_of(start: datetime | None, end: datetime | None, zone: ZoneInfo) -> Period:
    """The period as asked, with its first and last local days."""
    return Period(
        from_=start,
        to=end,
        first_day=None if start is None else start.astimezone(zone).date(),
        last_day=None if end is None else (end - timedelta(microseconds=1)).astimezone(zone).date(),
    )


def grade_band(grades: list[int] | None) -> str:
    """The band of a visit's grades: pre-school, 1-3, 4-6, 7-9, 10-12, mixed or unknown."""
    if not grades:
        return "unknown"
    bands = {label for low, high, label in GRADE_BANDS for g in grades if low <= g <= high}
    return bands.pop() if len(bands) == 1 else "mixed"


@dataclass
class _Tally:
    visits: int = 0
    schools: set[int] = field(default_factory=set)
    pupils: int = 0
    teachers: int = 0
    interactions: int = 0
    sessions: int = 0

    def add(self, line: VisitLine, interactions: int, sessions: int) -> None:
        self.visits += 1
        self.schools.add(line.school_id)
        self.pupils += line.pupils or 0
        self.teachers += line.teachers or 0
        self.interactions += interactions
        self.sessions += sessions


Key = tuple[str, ...]


def _tally(
    found: Iterable[ReportVisit], keys: Callable[[ReportVisit], list[Key]]
) -> dict[Key, _Tally]:
    tallies: defaultdict[Key, _Tally] = defaultdict(_Tally)
    for visit in found:
        for key in keys(visit):
            tallies[key].add(visit.line, visit.line.interactions, visit.line.sessions)
    return tallies


def municipality_key(line: VisitLine) -> str:
    """A municipality's code, or ``unmapped:`` and the text of a place not mapped."""
    return line.municipality_code or f"unmapped:{line.municipality}"


def region_key(line: VisitLine) -> str:
    """A region's code, or ``unmapped:`` and the text of a region not mapped."""
    return line.region_code or f"unmapped:{line.region}"


def _keys(group_by: GroupBy, zone: ZoneInfo) -> Callable[[ReportVisit], list[Key]]:
    def local(v: ReportVisit) -> datetime:
        return v.line.starts_at.astimezone(zone)

    keys: dict[GroupBy, Callable[[ReportVisit], list[Key]]] = {
        GroupBy.SCHOOL: lambda v: [
            (str(v.line.school_id), v.line.school, v.line.municipality, v.line.region)
        ],
        GroupBy.MUNICIPALITY: lambda v: [
            (municipality_key(v.line), v.line.municipality, region_key(v.line), v.line.region)
        ],
        GroupBy.REGION: lambda v: [(region_key(v.line), v.line.region)],
        GroupBy.AREA: lambda v: [(v.line.area or "unknown",)],
        GroupBy.PROGRAMME: lambda v: (
            [(str(p.id), p.name) for p in v.programmes] or [("none", "none")]
        ),
        GroupBy.GRADE_BAND: lambda v: [(grade_band(v.line.grades),)],
        GroupBy.MONTH: lambda v: [(local(v).strftime("%Y-%m"),)],
        GroupBy.QUARTER: lambda v: [(f"{local(v).year}-Q{(local(v).month - 1) // 3 + 1}",)],
        GroupBy.YEAR: lambda v: [(str(local(v).year),)],
    }
    return keys[group_by]


def _row(group_by: GroupBy, key: Key, tally: _Tally) -> UsageRow:
    common = {
        "field_trips_held": tally.visits,
        "schools": len(tally.schools),
        "pupil_participations": tally.pupils,
        "teachers_present": tally.teachers,
        "interactions": tally.interactions,
        "sessions": tally.sessions,
    }
    if group_by is GroupBy.SCHOOL:
        school_id, name, municipality, region = key
        return UsageRow(
            key=school_id, label=name, municipality=municipality, region=region, **common
        )
    if group_by is GroupBy.MUNICIPALITY:
        town_key, municipality, area_key, region = key
        return UsageRow(
            key=town_key,
            label=municipality,
            municipality=municipality,
            region=region,
            municipality_code=_code(town_key),
            region_code=_code(area_key),
            **common,
        )
    if group_by is GroupBy.REGION:
        area_key, region = key
        return UsageRow(
            key=area_key, label=region, region=region, region_code=_code(area_key), **common
        )
    if group_by is GroupBy.PROGRAMME:
        return UsageRow(key=key[0], label=key[1], **common)
    return UsageRow(key=key[0], label=key[0], **common)


def _code(key: str) -> str | None:
    return None if key.startswith("unmapped:") else key


def _definitions(*keys: str) -> dict[str, str]:
    return {key: BY_KEY[key].definition for key in keys if key in BY_KEY}


def usage_report(
    connection: Connection,
    *,
    group_by: GroupBy,
    start: datetime | None,
    end: datetime | None,
    zone: ZoneInfo,
    now: datetime,
) -> UsageReport:
    """Usage of the period's field trips held, rolled up by ``group_by``."""
    held = [v for v in report_visits(connection, start, end, now) if v.held]
    rows: list[UsageRow]
    if group_by is GroupBy.EXHIBIT:
        rows = _by_exhibit(connection, held, start, end)
    else:
        rows = [
            _row(group_by, key, tally) for key, tally in _tally(held, _keys(group_by, zone)).items()
        ]
    if group_by in (GroupBy.MONTH, GroupBy.QUARTER, GroupBy.YEAR):
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (row.label.casefold(), row.key))
    return UsageReport(
        group_by=group_by,
        period=period_of(start, end, zone),
        time_zone=zone.key,
        rows=rows,
        note=_NOTES.get(group_by),
        definitions=_definitions(*USAGE_COLUMNS),
    )


def _by_exhibit(
    connection: Connection, found: list[ReportVisit], start: datetime | None, end: datetime | None
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
            field_trips_held=tally.visits,
            schools=len(tally.schools),
            pupil_participations=tally.pupils,
            teachers_present=tally.teachers,
            interactions=tally.interactions,
            sessions=tally.sessions,
            unassigned_interactions=outside.get(exhibit_id, 0),
        )
        for exhibit_id, tally in (
            (e, tallies.get(e, _Tally())) for e in sorted(set(tallies) | set(outside))
        )
    ]


def funder_report(
    connection: Connection,
    *,
    start: datetime | None,
    end: datetime | None,
    zone: ZoneInfo,
    now: datetime,
) -> FunderReport:
    """The period's indicators (with definitions), reach, programmes, exhibit ranking,
    field trips held, and the visits not counted."""
    found = report_visits(connection, start, end, now)
    held = [v for v in found if v.held]
    lines = [visit.line for visit in held]
    areas = {line.school_id: line.area for line in lines}
    deliveries = [(v.line.visit_id, p.id) for v in held for p in v.programmes]
    totals = FunderTotals(
        field_trips_held=len(lines),
        planned_visits=sum(1 for v in found if v.line.status is VisitStatus.PLANNED),
        cancelled_visits=sum(1 for v in found if v.line.status is VisitStatus.CANCELLED),
        distinct_schools=len(areas),
        distinct_municipalities=len({municipality_key(line) for line in lines}),
        regions=len({region_key(line) for line in lines}),
        rural_schools=sum(1 for area in areas.values() if area == "rural"),
        urban_schools=sum(1 for area in areas.values() if area == "urban"),
        pupil_participations=sum(line.pupils or 0 for line in lines),
        visits_without_pupil_count=sum(1 for line in lines if line.pupils is None),
        teachers_present=sum(line.teachers or 0 for line in lines),
        visits_without_teacher_count=sum(1 for line in lines if line.teachers is None),
        programme_deliveries=len(deliveries),
        distinct_programmes=len({programme for _, programme in deliveries}),
        interactions=sum(line.interactions for line in lines),
        sessions=sum(line.sessions for line in lines),
        median_dwell_s=median_dwell(connection, [line.visit_id for line in lines]),
    )
    values = totals.model_dump()
    ranking = [row for row in _by_exhibit(connection, held, start, end) if row.field_trips_held]
    ranking.sort(key=lambda row: (-row.interactions, -row.sessions, row.key))
    return FunderReport(
        period=period_of(start, end, zone),
        time_zone=zone.key,
        indicators=[
            IndicatorValue(key=i.key, label=i.label, value=values[i.key], definition=i.definition)
            for i in INDICATORS
        ],
        totals=totals,
        regions=sorted(
            (_reach(k, t) for k, t in _tally(held, lambda v: [_place_key(v, False)]).items()),
            key=lambda r: r.region.casefold(),
        ),
        municipalities=sorted(
            (_reach(k, t) for k, t in _tally(held, lambda v: [_place_key(v, True)]).items()),
            key=lambda r: (r.region.casefold(), (r.municipality or "").casefold()),
        ),
        programmes=_programmes(held),
        exhibits=[
            ExhibitRank(
                rank=position,
                exhibit_id=row.key,
                name=row.label,
                field_trips_held=row.field_trips_held,
                interactions=row.interactions,
                sessions=row.sessions,
                interactions_per_trip=round(row.interactions / row.field_trips_held, 3),
            )
            for position, row in enumerate(ranking, start=1)
        ],
        visits=lines,
        not_counted=[v.line for v in found if not v.held],
    )


def _programmes(held: list[ReportVisit]) -> list[ProgrammeRow]:
    rows: dict[int, ProgrammeRow] = {}
    schools: defaultdict[int, set[int]] = defaultdict(set)
    for visit in held:
        for p in visit.programmes:
            row = rows.setdefault(
                p.id,
                ProgrammeRow(
                    programme_id=p.id,
                    name=p.name,
                    stem_area=p.stem_area,
                    grade_min=p.grade_min,
                    grade_max=p.grade_max,
                    field_trips_held=0,
                    schools=0,
                    pupil_participations=0,
                ),
            )
            row.field_trips_held += 1
            row.pupil_participations += visit.line.pupils or 0
            schools[p.id].add(visit.line.school_id)
            row.schools = len(schools[p.id])
    return sorted(rows.values(), key=lambda r: (r.name.casefold(), r.programme_id))


def _place_key(visit: ReportVisit, with_municipality: bool) -> Key:
    line = visit.line
    area = (region_key(line), line.region)
    return (*area, municipality_key(line), line.municipality) if with_municipality else area


def _reach(key: Key, tally: _Tally) -> ReachRow:
    municipality = key[3] if len(key) > 2 else None
    return ReachRow(
        region=key[1],
        municipality=municipality,
        region_code=_code(key[0]),
        municipality_code=_code(key[2]) if len(key) > 2 else None,
        field_trips_held=tally.visits,
        schools=len(tally.schools),
        pupil_participations=tally.pupils,
        teachers_present=tally.teachers,
        interactions=tally.interactions,
        sessions=tally.sessions,
    )
