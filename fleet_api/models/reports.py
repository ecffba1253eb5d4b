"""Report models: usage rolled up per group, and the funder report of a period.

A visit belongs to the period its start falls in (``from`` included, ``to`` excluded),
so a report over consecutive periods counts every visit once. Only field trips held are
counted; planned and cancelled visits of the period are listed apart. Months, quarters,
years and the period's days are in the centre's time zone (``time_zone``,
``FLEET_TIME_ZONE``). Every indicator carries its definition (``definitions``).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from fleet_api.models.visits import VisitStatus


class GroupBy(StrEnum):
    """What a usage report is rolled up by."""

    SCHOOL = "school"
    MUNICIPALITY = "municipality"
    REGION = "region"
    AREA = "area"
    PROGRAMME = "programme"
    GRADE_BAND = "grade_band"
    EXHIBIT = "exhibit"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Period(BaseModel):
    """The report's period as asked (UTC bounds, a missing end open) and as local days."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    first_day: date | None = Field(default=None, description="local date of `from`")
    last_day: date | None = Field(
        default=None, description="the last local day included (the day before `to`'s)"
    )


class UsageRow(BaseModel):
    """Field trips held of one group, and what they reached."""

    key: str = Field(
        description="school id, municipality or region code ('unmapped:' and the text as "
        "entered for a place not mapped), area, programme id, grade band, exhibit id, "
        "YYYY-MM, YYYY-Qn or YYYY"
    )
    label: str = Field(
        description="school, municipality, region, programme or exhibit name; the key otherwise"
    )
    municipality: str | None = None
    region: str | None = None
    municipality_code: str | None = None
    region_code: str | None = None
    field_trips_held: int
    schools: int = Field(description="distinct schools")
    pupil_participations: int
    teachers_present: int
    interactions: int
    sessions: int
    unassigned_interactions: int | None = Field(
        default=None,
        description="exhibit rows: interactions in the period outside any visit (depot tests)",
    )


class UsageReport(BaseModel):
    """Usage per group, sorted by label (periods by date)."""

    model_config = ConfigDict(populate_by_name=True)

    group_by: GroupBy
    period: Period
    time_zone: str = Field(description="the IANA zone of months, days and periods")
    rows: list[UsageRow]
    note: str | None = Field(default=None, description="how rows add up for this grouping")
    definitions: dict[str, str] = Field(description="what each column counts")


class FunderTotals(BaseModel):
    """What the centre reached in the period: field trips held only (see definitions)."""

    field_trips_held: int
    planned_visits: int
    cancelled_visits: int
    distinct_schools: int
    distinct_municipalities: int
    regions: int
    rural_schools: int
    urban_schools: int
    pupil_participations: int
    visits_without_pupil_count: int
    teachers_present: int
    visits_without_teacher_count: int
    programme_deliveries: int
    distinct_programmes: int
    interactions: int
    sessions: int
    median_dwell_s: float | None


class IndicatorValue(BaseModel):
    """One indicator of the summary, with its definition."""

    key: str
    label: str
    value: float | int | None
    definition: str


class ReachRow(BaseModel):
    """Field trips held to one municipality (or region, then ``municipality`` is None)."""

    region: str
    municipality: str | None
    region_code: str | None = Field(default=None, description="null: not mapped")
    municipality_code: str | None = None
    field_trips_held: int
    schools: int
    pupil_participations: int
    teachers_present: int
    interactions: int
    sessions: int


class ProgrammeRow(BaseModel):
    """One programme's deliveries in the period."""

    programme_id: int
    name: str
    stem_area: str | None
    grade_min: int | None
    grade_max: int | None
    field_trips_held: int
    schools: int
    pupil_participations: int


class ExhibitRank(BaseModel):
    """One exhibit's place in the ranking by interactions."""

    rank: int
    exhibit_id: str
    name: str
    field_trips_held: int
    interactions: int
    sessions: int
    interactions_per_trip: float | None


class VisitLine(BaseModel):
    """One visit of the period, as a funder's spreadsheet lists it."""

    visit_id: int
    status: VisitStatus
    status_reason: str | None
    starts_at: datetime
    ends_at: datetime
    school_id: int
    school: str
    municipality: str
    region: str
    municipality_code: str | None = Field(default=None, description="null: not mapped")
    region_code: str | None = None
    area: str | None
    pupils: int | None
    teachers: int | None
    grades: list[int] | None
    staff: str | None
    programmes: list[str]
    exhibit_ids: list[str]
    interactions: int
    sessions: int


class FunderReport(BaseModel):
    """The funder report of a period: indicators with definitions, reach, programmes,
    the exhibit ranking, every field trip held, and the visits not counted."""

    period: Period
    time_zone: str
    indicators: list[IndicatorValue]
    totals: FunderTotals
    regions: list[ReachRow]
    municipalities: list[ReachRow]
    programmes: list[ProgrammeRow]
    exhibits: list[ExhibitRank]
    visits: list[VisitLine] = Field(description="field trips held")
    not_counted: list[VisitLine] = Field(description="planned and cancelled visits")
