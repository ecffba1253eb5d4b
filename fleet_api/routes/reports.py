"""``/reports``: usage rolled up per group, and the funder report; JSON, CSV
(``?format=csv``: UTF-8, RFC 4180, unformatted numbers) or XLSX (``?format=xlsx``, one
sheet per table).

``from``/``to`` bound the visits by their start (``from`` included, ``to`` excluded;
either may be left out). Only field trips held count; planned and cancelled visits are
listed apart. Months, quarters, years, CSV and XLSX times and download names are in the
centre's time zone (``FLEET_TIME_ZONE``), which every report names in ``time_zone``.

JSON answers are serialised straight from the report the store built and validated:
``response_model`` documents them, but FastAPI would otherwise validate a year's report
(hundreds of visit lines) a second time before serialising it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from broker.messages import utc_now
from fleet_api.csv_export import CSV_RESPONSES, csv_response, to_csv
from fleet_api.deps import AUTH_RESPONSES, PeriodDep, ReadAccess, SessionDep, SettingsDep
from fleet_api.models.reports import FunderReport, GroupBy, UsageReport
from fleet_api.problems import problem_responses
from fleet_api.report_tables import FunderTable, download_name, funder_table, usage_table
from fleet_api.store import reports as store
from fleet_api.xlsx_export import XLSX_RESPONSES, xlsx_response

router = APIRouter(
    prefix="/reports", tags=["reports"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)


class Format(StrEnum):
    """How a report is returned."""

    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


FormatQuery = Annotated[
    Format, Query(alias="format", description="json; csv or xlsx for a download")
]
DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "OK",
        "content": {**CSV_RESPONSES[200]["content"], **XLSX_RESPONSES[200]["content"]},  # type: ignore[dict-item]
    }
}


@router.get("/usage", response_model=UsageReport, responses=DOWNLOADS | problem_responses(422))
def usage_report(
    session: SessionDep,
    period: PeriodDep,
    settings: SettingsDep,
    group_by: Annotated[GroupBy, Query(description="what to roll the field trips up by")],
    output: FormatQuery = Format.JSON,
) -> Response:
    """Field trips held, schools, pupil participations, teachers, interactions and sessions
    per group, each column defined in ``definitions``."""
    report = store.usage_report(
        session.connection(),
        group_by=group_by,
        start=period.start,
        end=period.end,
        zone=settings.zone,
        now=utc_now(),
    )
    if output is Format.JSON:
        return json_response(report)
    name = f"usage-by-{group_by}"
    header, rows = usage_table(report, settings.zone)
    if output is Format.XLSX:
        sheets = {"usage": (header, rows), "definitions": _definitions(report.definitions)}
        return xlsx_response(sheets, filename=download_name(name, report.period, "xlsx"))
    return csv_response(to_csv(header, rows), filename=download_name(name, report.period, "csv"))


@router.get("/funder", response_model=FunderReport, responses=DOWNLOADS | problem_responses(422))
def funder_report(
    session: SessionDep,
    period: PeriodDep,
    settings: SettingsDep,
    output: FormatQuery = Format.JSON,
    table: Annotated[
        FunderTable, Query(description="with format=csv: which table to download")
    ] = FunderTable.SUMMARY,
) -> Response:
    """The period's indicators with their definitions (field trips held, distinct schools
    and municipalities, pupil participations, teachers, programmes delivered, interactions,
    sessions, median dwell), reach per region and municipality, programmes, the exhibit
    ranking, every field trip held and the visits not counted. XLSX: every table, one
    sheet each."""
    report = build_funder_report(session, period, settings)
    if output is Format.JSON:
        return json_response(report)
    if output is Format.XLSX:
        sheets = {t.value: funder_table(report, t, settings.zone) for t in FunderTable}
        return xlsx_response(sheets, filename=download_name("funder", report.period, "xlsx"))
    header, rows = funder_table(report, table, settings.zone)
    return csv_response(
        to_csv(header, rows), filename=download_name(f"funder-{table}", report.period, "csv")
    )


def build_funder_report(
    session: SessionDep, period: PeriodDep, settings: SettingsDep
) -> FunderReport:
    """The funder report of ``period`` as of now, in the centre's time zone."""
    return store.funder_report(
        session.connection(),
        start=period.start,
        end=period.end,
        zone=settings.zone,
        now=utc_now(),
    )


def _definitions(definitions: dict[str, str]) -> tuple[list[str], list[list[Any]]]:
    return ["column", "definition"], [[key, text] for key, text in definitions.items()]


def json_response(model: BaseModel) -> Response:
    """``model`` as the JSON its ``response_model`` would give (field aliases included)."""
    return Response(content=model.model_dump_json(by_alias=True), media_type="application/json")
