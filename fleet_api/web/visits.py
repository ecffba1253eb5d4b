"""Visits: a month's list, the month calendar, and the visit page with its usage."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from fleet_api.completeness import DataStatus
from fleet_api.deps import SessionDep
from fleet_api.models.usage import ExhibitUsage, VisitUsage
from fleet_api.models.visits import VisitPublic
from fleet_api.store.audit import entries_about
from fleet_api.store.exhibits import get_exhibit
from fleet_api.store.programmes import list_programmes
from fleet_api.store.schools import get_school
from fleet_api.store.unplaced import unplaced_here
from fleet_api.store.usage import visit_usage
from fleet_api.store.visits import get_visit, list_visits
from fleet_api.web import audit_texts, texts
from fleet_api.web.charts import chart
from fleet_api.web.page import PREFIX, Page, ViewerPage
from fleet_api.web.queries import school_names
from fleet_api.web.route import PageRoute

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

MonthQuery = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
VisitId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MAX_VISITS_PER_MONTH = 1000


def _month(page: Page, month: str | None) -> date:
    if month is None:
        return page.fmt.local(page.now).date().replace(day=1)
    year, number = month.split("-")
    return date(int(year), int(number), 1)


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def _month_visits(page: Page, session: SessionDep, first: date) -> list[VisitPublic]:
    start = page.fmt.local_midnight(first)
    end = page.fmt.local_midnight(_next_month(first))
    return list_visits(session, limit=MAX_VISITS_PER_MONTH, start=start, end=end)


def _month_links(first: date) -> dict[str, str]:
    previous = (first - timedelta(days=1)).replace(day=1)
    return {
        "previous": previous.strftime("%Y-%m"),
        "next": _next_month(first).strftime("%Y-%m"),
        "current": first.strftime("%Y-%m"),
    }


@router.get("/visits")
def visit_list(page: ViewerPage, session: SessionDep, month: MonthQuery = None) -> Response:
    """The visits of a month as a list."""
    first = _month(page, month)
    visits = _month_visits(page, session, first)
    schools = school_names(session.connection(), (v.school_id for v in visits))
    return page.render(
        "visits/list.html",
        visits=visits,
        schools=schools,
        first=first,
        months=_month_links(first),
    )


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """One cell of the month calendar."""

    day: date
    in_month: bool
    visits: list[VisitPublic]


@router.get("/visits/calendar")
def visit_calendar(page: ViewerPage, session: SessionDep, month: MonthQuery = None) -> Response:
    """The visits of a month on a calendar, weeks starting on the locale's first day."""
    first = _month(page, month)
    visits = _month_visits(page, session, first)
    schools = school_names(session.connection(), (v.school_id for v in visits))
    weeks = calendar.Calendar(firstweekday=page.fmt.locale.first_week_day).monthdatescalendar(
        first.year, first.month
    )
    grid = [
        [
            CalendarDay(
                day=day,
                in_month=day.month == first.month,
                visits=[v for v in visits if _on_day(page, v, day)],
            )
            for day in week
        ]
        for week in weeks
    ]
    return page.render(
        "visits/calendar.html",
        grid=grid,
        schools=schools,
        first=first,
        months=_month_links(first),
        today=page.fmt.local(page.now).date(),
        weekdays=list(zip(page.fmt.weekday_names(), page.fmt.weekday_full_names(), strict=True)),
    )


def _on_day(page: Page, visit: VisitPublic, day: date) -> bool:
    start = page.fmt.local_midnight(day)
    end = page.fmt.local_midnight(day + timedelta(days=1))
    return visit.starts_at < end and visit.ends_at > start


@dataclass(frozen=True, slots=True)
class DataWarning:
    """Why one exhibit's numbers for the visit may still change."""

    exhibit_id: str
    text: str


def data_warnings(page: Page, usage: VisitUsage) -> list[DataWarning]:
    """One sentence per exhibit whose data is not complete yet (gap or backlog)."""
    found = []
    for exhibit in usage.exhibits:
        done = exhibit.completeness
        if done is None or (
            done.status in (DataStatus.FINAL, DataStatus.IN_PROGRESS) and not done.unplaced_records
        ):
            continue
        parts = []
        if done.unplaced_records:
            parts.append(
                page.ngettext(
                    "%(num)s record (%(interactions)s interactions) may belong to this visit "
                    "but could not be placed: the exhibit's clock was never synchronised, and "
                    "another visit or none is possible too. It is not counted until staff "
                    "assign it.",
                    "%(num)s records (%(interactions)s interactions) may belong to this visit "
                    "but could not be placed: the exhibit's clock was never synchronised, and "
                    "another visit or none is possible too. They are not counted until staff "
                    "assign them.",
                    done.unplaced_records,
                    interactions=page.fmt.number(done.unplaced_interactions),
                )
            )
        if done.missing_records:
            parts.append(
                page.ngettext(
                    "%(num)s record is missing (a gap in its data).",
                    "%(num)s records are missing (a gap in its data).",
                    done.missing_records,
                )
            )
        if done.outbox_depth:
            parts.append(
                page.ngettext(
                    "%(num)s record is still waiting on the exhibit.",
                    "%(num)s records are still waiting on the exhibit.",
                    done.outbox_depth,
                )
            )
        if not parts and done.status is not DataStatus.IN_PROGRESS:
            parts.append(page.gettext("It has not reported since the visit ended."))
        found.append(DataWarning(exhibit.exhibit_id, " ".join(parts)))
    return found


def _charts(
    page: Page, usage: VisitUsage, names: dict[str, str]
) -> tuple[dict[str, object], dict[str, object]]:
    interactions, sessions = page.gettext("Interactions"), page.gettext("Sessions")
    bars = chart(
        "bar",
        [names[e.exhibit_id] for e in usage.exhibits],
        [
            (interactions, [e.total for e in usage.exhibits]),
            (sessions, [e.sessions for e in usage.exhibits]),
        ],
        x_title=page.gettext("Exhibit"),
        y_title=page.gettext("Count"),
    )
    days = {page.fmt.local(h.hour).date() for h in usage.timeline}
    timeline = chart(
        "bar",
        [page.fmt.hour_label(h.hour, with_day=len(days) > 1) for h in usage.timeline],
        [
            (interactions, [h.count for h in usage.timeline]),
            (page.gettext("Sessions started"), [h.sessions for h in usage.timeline]),
        ],
        x_title=page.gettext("Hour (%(zone)s)", zone=str(page.fmt.zone)),
        y_title=page.gettext("Count"),
    )
    return bars, timeline


def _status_of(page: Page, exhibit: ExhibitUsage) -> str:
    done = exhibit.completeness
    return texts.data_status(page, None if done is None else done.status)


@router.get("/visits/{visit_id}")
def visit_page(page: ViewerPage, session: SessionDep, visit_id: VisitId) -> Response:
    """A visit: its details, check-out state, usage charts and tables, data completeness."""
    visit = get_visit(session, visit_id=visit_id, now=page.now)
    usage = visit_usage(session, visit_id=visit_id, now=page.now)
    school = get_school(session, school_id=visit.school_id)
    names = {
        e.exhibit_id: get_exhibit(session, exhibit_id=e.exhibit_id).name for e in usage.exhibits
    }
    bars, timeline = _charts(page, usage, names)
    delivered = {p.id: p.name for p in list_programmes(session, limit=1000)}
    history = entries_about(session.connection(), entity="visit", entity_id=visit_id)
    return page.render(
        "visits/detail.html",
        visit=visit,
        status_text=audit_texts.status(page, visit.status.value),
        programme_names=[delivered[p] for p in visit.programme_ids if p in delivered],
        history=audit_texts.lines(page, history),
        usage=usage,
        school=school,
        names=names,
        bars=bars,
        timeline=timeline,
        warnings=data_warnings(page, usage),
        unplaced=unplaced_here(session.connection(), visit_id),
        statuses={e.exhibit_id: _status_of(page, e) for e in usage.exhibits},
        overall=texts.data_status(page, usage.data_status),
        in_progress=usage.data_status is DataStatus.IN_PROGRESS,
        unsynced=sum(e.completeness.unsynced_records for e in usage.exhibits if e.completeness),
        notice=page.request.query_params.get("notice"),
        now=page.now,
    )


def local_input(page: Page, moment: datetime) -> str:
    """A time as a ``datetime-local`` field's value, in the display time zone."""
    return page.fmt.local(moment).strftime("%Y-%m-%dT%H:%M")
