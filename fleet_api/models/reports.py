"""Report models: usage rolled up per school, municipality, region, exhibit or month, and the
funder report of a period.

A visit belongs to the period its start falls in (``from`` included, ``to`` excluded),
so a report over consecutive periods counts every visit once. Months are UTC months.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GroupBy(StrEnum):
    """What a usage report is rolled up by."""

    SCHOOL = "school"
    MUNICIPALITY = "municipality"
    REGION = "region"
    EXHIBIT = "exhibit"
    MONTH = "month"


class Period(BaseModel):
    """The report's period as asked; a missing end is open."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None


class UsageRow(BaseModel):
    """Usage of the visits of one group."""

    key: str = Field(description="school id, municipality, region, exhibit id or YYYY-MM")
    label: str = Field(description="school or exhibit name; the key otherwise")
    municipality: str | None = None
    region: str | None = None
    visits: int
    schools: int
    pupils: int = Field(description="pupils reached, summed over visits that recorded them")
    interactions: int
    sessions: int
    unassigned_interactions: int | None = Field(
        default=None,
        description="exhibit rows: interactions in the period outside any visit (depot tests)",
    )


class UsageReport(BaseModel):
    """Usage per group, sorted by label (months by date)."""

    model_config = ConfigDict(populate_by_name=True)

    group_by: GroupBy
    period: Period
    time_zone: Literal["UTC"] = "UTC"
    rows: list[UsageRow]


class FunderTotals(BaseModel):
    """What the centre reached in the period."""

    visits: int
    schools: int
    municipalities: int
    regions: int
    rural_schools: int
    urban_schools: int
    pupils: int
    visits_without_pupils: int = Field(description="visits whose pupils were not recorded")
    interactions: int
    sessions: int


class ReachRow(BaseModel):
    """Visits to one municipality (or region, then ``municipality`` is None)."""

    region: str
    municipality: str | None
    visits: int
    schools: int
    pupils: int
    interactions: int
    sessions: int


class ExhibitRank(BaseModel):
    """One exhibit's place in the ranking by interactions."""

    rank: int
    exhibit_id: str
    name: str
    visits: int
    interactions: int
    sessions: int
    interactions_per_visit: float | None


class VisitLine(BaseModel):
    """One visit of the period, as a funder's spreadsheet lists it."""

    visit_id: int
    starts_at: datetime
    ends_at: datetime
    school_id: int
    school: str
    municipality: str
    region: str
    area: str | None
    pupils: int | None
    grades: list[int] | None
    staff: str | None
    programme: str | None
    exhibit_ids: list[str]
    interactions: int
    sessions: int


class FunderReport(BaseModel):
    """The funder report of a period: reach, use, exhibit ranking, and every visit."""

    period: Period
    time_zone: Literal["UTC"] = "UTC"
    totals: FunderTotals
    regions: list[ReachRow]
    municipalities: list[ReachRow]
    exhibits: list[ExhibitRank]
    visits: list[VisitLine]
