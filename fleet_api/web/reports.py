"""The funder report: a period picker, the indicators with their definitions, charts,
downloads (CSV per table, XLSX with every table) and a printable page.

The English CSV is byte for byte the API's (``GET /reports/funder?format=csv``); on a
Latvian page the column headers are Latvian, the values the same.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Response

from fleet_api.csv_export import csv_response, to_csv
from fleet_api.deps import SessionDep
from fleet_api.models.reports import FunderReport, GroupBy, UsageReport
from fleet_api.report_tables import FunderTable, download_name, funder_table
from fleet_api.store.reports import funder_report, usage_report
from fleet_api.web.charts import chart
from fleet_api.web.page import PREFIX, Page, ViewerPage
from fleet_api.web.route import PageRoute
from fleet_api.web.schools import FromDay, ToDay, period_bounds
from fleet_api.xlsx_export import xlsx_response

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


def presets(page: Page) -> list[tuple[str, date, date]]:
    """Quick periods: this month, last month, this year, last year (local days)."""
    today = page.fmt.local(page.now).date()
    month = today.replace(day=1)
    last_month_end = date.fromordinal(month.toordinal() - 1)
    next_month = date.fromordinal(month.toordinal() + 32).replace(day=1)
    return [
        (page.gettext("This month"), month, date.fromordinal(next_month.toordinal() - 1)),
        (page.gettext("Last month"), last_month_end.replace(day=1), last_month_end),
        (page.gettext("This year"), date(today.year, 1, 1), date(today.year, 12, 31)),
        (page.gettext("Last year"), date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    ]


def _charts(page: Page, report: FunderReport, months: UsageReport) -> dict[str, dict[str, Any]]:
    interactions = page.gettext("Interactions")
    return {
        "regions": chart(
            "bar",
            [row.region for row in report.regions],
            [
                (interactions, [row.interactions for row in report.regions]),
                (
                    page.gettext("Pupil participations"),
                    [row.pupil_participations for row in report.regions],
                ),
            ],
            x_title=page.gettext("Region"),
            y_title=page.gettext("Count"),
        ),
        "exhibits": chart(
            "bar",
            [row.name for row in report.exhibits],
            [(interactions, [row.interactions for row in report.exhibits])],
            x_title="",
            y_title=interactions,
            horizontal=True,
        ),
        "months": chart(
            "bar",
            [page.fmt.month_title(date.fromisoformat(row.key + "-01")) for row in months.rows],
            [
                (interactions, [row.interactions for row in months.rows]),
                (page.gettext("Field trips held"), [row.field_trips_held for row in months.rows]),
            ],
            x_title=page.gettext("Month (%(zone)s)", zone=months.time_zone),
            y_title=page.gettext("Count"),
        ),
    }


def _period(page: Page, start: date | None, end: date | None) -> tuple[date | None, date | None]:
    if start is None and end is None and "from" not in page.request.query_params:
        _, start, end = presets(page)[2]
    return start, end


def _report(page: Page, session: SessionDep, start: date | None, end: date | None) -> FunderReport:
    begin, stop = period_bounds(page, start, end)
    return funder_report(
        session.connection(), start=begin, end=stop, zone=page.report_zone, now=page.now
    )


@router.get("/reports/funder")
def funder_page(page: ViewerPage, session: SessionDep, start: FromDay, end: ToDay) -> Response:
    """The funder report of a period (default: this year)."""
    start, end = _period(page, start, end)
    begin, stop = period_bounds(page, start, end)
    report = _report(page, session, start, end)
    months = usage_report(
        session.connection(),
        group_by=GroupBy.MONTH,
        start=begin,
        end=stop,
        zone=page.report_zone,
        now=page.now,
    )
    return page.render(
        "reports/funder.html",
        report=report,
        charts=_charts(page, report, months),
        start=start,
        end=end,
        presets=presets(page),
        tables=[table.value for table in FunderTable],
    )


@router.get("/reports/funder/print")
def funder_print(page: ViewerPage, session: SessionDep, start: FromDay, end: ToDay) -> Response:
    """Every table of the funder report on one page, styled for printing (save as PDF)."""
    start, end = _period(page, start, end)
    return page.render(
        "reports/print.html", report=_report(page, session, start, end), start=start, end=end
    )


@router.get("/reports/funder.csv")
def funder_csv(
    page: ViewerPage,
    session: SessionDep,
    start: FromDay,
    end: ToDay,
    table: FunderTable = FunderTable.SUMMARY,
) -> Response:
    """One table of the funder report as CSV, headers in the page's language."""
    report = _report(page, session, start, end)
    header, rows = funder_table(report, table, page.report_zone, _label(page))
    return csv_response(
        to_csv(header, rows), filename=download_name(f"funder-{table}", report.period, "csv")
    )


@router.get("/reports/funder.xlsx")
def funder_xlsx(page: ViewerPage, session: SessionDep, start: FromDay, end: ToDay) -> Response:
    """Every table of the funder report, one sheet each, headers in the page's language."""
    report = _report(page, session, start, end)
    sheets = {t.value: funder_table(report, t, page.report_zone, _label(page)) for t in FunderTable}
    return xlsx_response(sheets, filename=download_name("funder", report.period, "xlsx"))


def _label(page: Page) -> Any:
    if page.language == "en":
        return lambda key: key  # the API's own headers: the same bytes as its CSV
    headers = column_headers(page)
    return lambda key: headers.get(key) or page.gettext(key)


def column_headers(page: Page) -> dict[str, str]:
    """The download columns' headers in the page's language."""
    return {
        "indicator": page.gettext("Indicator"),
        "label": page.gettext("Name"),
        "value": page.gettext("Value"),
        "definition": page.gettext("Definition"),
        "region": page.gettext("Region"),
        "municipality": page.gettext("Municipality"),
        "field_trips_held": page.gettext("Field trips held"),
        "schools": page.gettext("Schools"),
        "pupil_participations": page.gettext("Pupil participations"),
        "teachers_present": page.gettext("Teachers present"),
        "interactions": page.gettext("Interactions"),
        "sessions": page.gettext("Sessions"),
        "programme_id": page.gettext("Programme id"),
        "name": page.gettext("Name"),
        "stem_area": page.gettext("STEM area"),
        "grade_min": page.gettext("Lowest grade"),
        "grade_max": page.gettext("Highest grade"),
        "rank": page.gettext("Rank"),
        "exhibit_id": page.gettext("Exhibit id"),
        "interactions_per_trip": page.gettext("Interactions per field trip"),
        "visit_id": page.gettext("Visit id"),
        "status": page.gettext("Status"),
        "status_reason": page.gettext("Reason"),
        "starts_at": page.gettext("Starts"),
        "ends_at": page.gettext("Ends"),
        "school_id": page.gettext("School id"),
        "school": page.gettext("School"),
        "area": page.gettext("Area"),
        "pupils": page.gettext("Pupils taking part"),
        "teachers": page.gettext("Teachers present"),
        "grades": page.gettext("Grades"),
        "staff": page.gettext("Staff member"),
        "programmes": page.gettext("Programmes"),
        "exhibit_ids": page.gettext("Exhibits"),
    }
