"""``/reports``: usage rolled up per school, municipality, region, exhibit or month, and
the funder report; JSON, or CSV with ``?format=csv`` (UTF-8, RFC 4180, unformatted numbers).

``from``/``to`` bound the visits by their start (``from`` included, ``to`` excluded;
either may be left out). Months and times are UTC.

JSON answers are serialised straight from the report the store built and validated:
``response_model`` documents them, but FastAPI would otherwise validate a year's report
(hundreds of visit lines) a second time before serialising it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from fleet_api.csv_export import CSV_RESPONSES, Cell, csv_response, to_csv
from fleet_api.deps import AUTH_RESPONSES, PeriodDep, ReadAccess, SessionDep
from fleet_api.models.reports import FunderReport, GroupBy, UsageReport
from fleet_api.problems import problem_responses
from fleet_api.store import reports as store

router = APIRouter(
    prefix="/reports", tags=["reports"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)


class Format(StrEnum):
    """How a report is returned."""

    JSON = "json"
    CSV = "csv"


class FunderTable(StrEnum):
    """Which table of the funder report a CSV holds."""

    SUMMARY = "summary"
    REGIONS = "regions"
    MUNICIPALITIES = "municipalities"
    EXHIBITS = "exhibits"
    VISITS = "visits"


FormatQuery = Annotated[Format, Query(alias="format", description="json, or csv for a download")]


@router.get("/usage", response_model=UsageReport, responses=CSV_RESPONSES | problem_responses(422))
def usage_report(
    session: SessionDep,
    period: PeriodDep,
    group_by: Annotated[GroupBy, Query(description="what to roll the visits up by")],
    output: FormatQuery = Format.JSON,
) -> Response:
    """Visits, schools, pupils, interactions and sessions per group."""
    report = store.usage_report(
        session.connection(), group_by=group_by, start=period.start, end=period.end
    )
    if output is Format.JSON:
        return json_response(report)
    header = [
        "key",
        "label",
        "municipality",
        "region",
        "visits",
        "schools",
        "pupils",
        "interactions",
        "sessions",
        "unassigned_interactions",
    ]
    rows = [[getattr(row, name) for name in header] for row in report.rows]
    return csv_response(
        to_csv(header, rows), filename=_filename(f"usage-by-{group_by}", period.start, period.end)
    )


@router.get(
    "/funder", response_model=FunderReport, responses=CSV_RESPONSES | problem_responses(422)
)
def funder_report(
    session: SessionDep,
    period: PeriodDep,
    output: FormatQuery = Format.JSON,
    table: Annotated[
        FunderTable, Query(description="with format=csv: which table to download")
    ] = FunderTable.SUMMARY,
) -> Response:
    """Visits, schools, municipalities and regions reached, pupils, interactions, sessions,
    the exhibit ranking and every visit of the period."""
    report = store.funder_report(session.connection(), start=period.start, end=period.end)
    if output is Format.JSON:
        return json_response(report)
    header, rows = _funder_table(report, table)
    return csv_response(
        to_csv(header, rows), filename=_filename(f"funder-{table}", period.start, period.end)
    )


def json_response(model: BaseModel) -> Response:
    """``model`` as the JSON its ``response_model`` would give (field aliases included)."""
    return Response(content=model.model_dump_json(by_alias=True), media_type="application/json")


def _funder_table(report: FunderReport, table: FunderTable) -> tuple[list[str], list[list[Cell]]]:
    if table is FunderTable.SUMMARY:
        totals = report.totals.model_dump()
        return (
            ["from", "to", *totals],
            [[report.period.from_, report.period.to, *totals.values()]],
        )
    if table in (FunderTable.REGIONS, FunderTable.MUNICIPALITIES):
        reach = report.regions if table is FunderTable.REGIONS else report.municipalities
        header = [
            "region",
            "municipality",
            "visits",
            "schools",
            "pupils",
            "interactions",
            "sessions",
        ]
        if table is FunderTable.REGIONS:
            header.remove("municipality")
        return header, [[getattr(row, name) for name in header] for row in reach]
    if table is FunderTable.EXHIBITS:
        header = [
            "rank",
            "exhibit_id",
            "name",
            "visits",
            "interactions",
            "sessions",
            "interactions_per_visit",
        ]
        return header, [[getattr(row, name) for name in header] for row in report.exhibits]
    header = [
        "visit_id",
        "starts_at",
        "ends_at",
        "school_id",
        "school",
        "municipality",
        "region",
        "area",
        "pupils",
        "grades",
        "staff",
        "programme",
        "exhibit_ids",
        "interactions",
        "sessions",
    ]
    rows: list[list[Cell]] = []
    for line in report.visits:
        values = line.model_dump()
        values["grades"] = " ".join(str(g) for g in line.grades or []) or None
        values["exhibit_ids"] = " ".join(line.exhibit_ids)
        rows.append([values[name] for name in header])
    return header, rows


def _filename(name: str, start: datetime | None, end: datetime | None) -> str:
    def day(value: datetime | None, open_end: str) -> str:
        return open_end if value is None else value.strftime("%Y%m%d")

    return f"{name}-{day(start, 'start')}-{day(end, 'now')}.csv"
