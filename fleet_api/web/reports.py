"""The funder report: a period picker, the numbers, charts, and CSV downloads that are
byte for byte the API's (``GET /reports/funder?format=csv``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Response

from fleet_api.deps import Period, SessionDep
from fleet_api.models.reports import FunderReport, GroupBy, UsageReport
from fleet_api.routes.reports import Format, FunderTable
from fleet_api.routes.reports import funder_report as api_funder_report
from fleet_api.store.reports import funder_report, usage_report
from fleet_api.web.charts import chart
from fleet_api.web.page import PREFIX, Page, ViewerPage
from fleet_api.web.route import PageRoute
from fleet_api.web.schools import FromDay, ToDay, period_bounds

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
                (page.gettext("Pupils"), [row.pupils for row in report.regions]),
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
                (page.gettext("Visits"), [row.visits for row in months.rows]),
            ],
            x_title=page.gettext("Month (UTC)"),
            y_title=page.gettext("Count"),
        ),
    }


@router.get("/reports/funder")
def funder_page(page: ViewerPage, session: SessionDep, start: FromDay, end: ToDay) -> Response:
    """The funder report of a period (default: this year)."""
    if start is None and end is None and "from" not in page.request.query_params:
        _, start, end = presets(page)[2]
    begin, stop = period_bounds(page, start, end)
    connection = session.connection()
    report = funder_report(connection, start=begin, end=stop)
    months = usage_report(connection, group_by=GroupBy.MONTH, start=begin, end=stop)
    return page.render(
        "reports/funder.html",
        report=report,
        charts=_charts(page, report, months),
        start=start,
        end=end,
        presets=presets(page),
        tables=[table.value for table in FunderTable],
    )


@router.get("/reports/funder.csv")
def funder_csv(
    page: ViewerPage,
    session: SessionDep,
    start: FromDay,
    end: ToDay,
    table: FunderTable = FunderTable.SUMMARY,
) -> Response:
    """One table of the funder report as the API's CSV (the same bytes, the same name)."""
    begin, stop = period_bounds(page, start, end)
    response = api_funder_report(
        session=session, period=Period(begin, stop), output=Format.CSV, table=table
    )
    if not isinstance(response, Response):  # format=csv always answers a download
        raise TypeError("the funder report did not answer CSV")
    return response
