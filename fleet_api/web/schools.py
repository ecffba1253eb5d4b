"""Schools and regions: usage across visits in a table and a chart; adding and editing
schools (staff)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import ValidationError

from fleet_api.deps import SessionDep
from fleet_api.errors import InvalidPlace
from fleet_api.models.reports import GroupBy, UsageReport
from fleet_api.models.schools import SchoolCreate, SchoolPublic, SchoolUpdate
from fleet_api.store.reports import usage_report
from fleet_api.store.schools import create_school, get_school, list_schools, update_school
from fleet_api.web.charts import chart
from fleet_api.web.forms import field_errors, optional_text
from fleet_api.web.page import PREFIX, Page, PostedForm, StaffPage, ViewerPage
from fleet_api.web.places import municipality_choices
from fleet_api.web.route import PageRoute

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

SchoolId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _day(value: str | None) -> date | None:
    # An emptied date field arrives as "": no bound, not an error.
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def first_day(value: Annotated[str | None, Query(alias="from")] = None) -> date | None:
    """``?from=`` as a local day (empty or unreadable: none)."""
    return _day(value)


def last_day(value: Annotated[str | None, Query(alias="to")] = None) -> date | None:
    """``?to=`` as a local day, included in the period (empty or unreadable: none)."""
    return _day(value)


FromDay = Annotated[date | None, Depends(first_day)]
ToDay = Annotated[date | None, Depends(last_day)]
_FIELDS = ("name", "municipality", "address", "area")
_MAX_SCHOOLS = 1000


def period_bounds(
    page: Page, start: date | None, end: date | None
) -> tuple[datetime | None, datetime | None]:
    """Local days [start, end] (both included) as UTC-aware bounds [from, to)."""
    begin = None if start is None else page.fmt.local_midnight(start)
    stop = None if end is None else page.fmt.local_midnight(date.fromordinal(end.toordinal() + 1))
    return begin, stop


def _usage_chart(page: Page, report: UsageReport) -> dict[str, Any]:
    return chart(
        "bar",
        [row.label for row in report.rows],
        [
            (page.gettext("Interactions"), [row.interactions for row in report.rows]),
            (
                page.gettext("Pupil participations"),
                [row.pupil_participations for row in report.rows],
            ),
        ],
        x_title="",
        y_title=page.gettext("Count"),
        horizontal=True,
    )


@router.get("/schools")
def schools_page(
    page: ViewerPage,
    session: SessionDep,
    start: FromDay,
    end: ToDay,
) -> Response:
    """Every school, and usage per school over the chosen period."""
    begin, stop = period_bounds(page, start, end)
    report = usage_report(
        session.connection(),
        group_by=GroupBy.SCHOOL,
        start=begin,
        end=stop,
        zone=page.report_zone,
        now=page.now,
    )
    return page.render(
        "schools/index.html",
        schools=list_schools(session, limit=_MAX_SCHOOLS),
        report=report,
        usage_chart=_usage_chart(page, report),
        start=start,
        end=end,
        notice=page.request.query_params.get("notice"),
    )


@router.get("/regions")
def regions_page(
    page: ViewerPage,
    session: SessionDep,
    start: FromDay,
    end: ToDay,
) -> Response:
    """Usage per region and per municipality over the chosen period."""
    begin, stop = period_bounds(page, start, end)
    connection = session.connection()
    zone, now = page.report_zone, page.now
    regions = usage_report(
        connection, group_by=GroupBy.REGION, start=begin, end=stop, zone=zone, now=now
    )
    municipalities = usage_report(
        connection, group_by=GroupBy.MUNICIPALITY, start=begin, end=stop, zone=zone, now=now
    )
    return page.render(
        "schools/regions.html",
        regions=regions,
        municipalities=municipalities,
        region_chart=_usage_chart(page, regions),
        start=start,
        end=end,
    )


def _shown(form: Any) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in _FIELDS}


def _data(shown: dict[str, str]) -> dict[str, Any]:
    # Required names stay "" when empty, so validation says "required", not "wrong type".
    return {
        name: optional_text(value) if name in ("address", "area") else value
        for name, value in shown.items()
    }


def _form(
    page: Page,
    session: SessionDep,
    *,
    school: SchoolPublic | None,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    """The school form: municipalities in force, grouped by region, to choose from."""
    return page.render(
        "schools/form.html",
        status_code=status_code,
        school=school,
        values=values,
        errors=errors,
        choices=municipality_choices(
            session.connection(), page.now.astimezone(page.report_zone).date()
        ),
    )


def _place_error(page: Page) -> dict[str, str]:
    return {"municipality": page.gettext("Choose the municipality from the list.")}


@router.get("/schools/new")
def new_school(page: StaffPage, session: SessionDep) -> Response:
    """An empty school form."""
    return _form(page, session, school=None, values=dict.fromkeys(_FIELDS, ""), errors={})


@router.post("/schools/new")
def create_school_page(page: StaffPage, form: PostedForm, session: SessionDep) -> Response:
    """Add the school, or show the form again with what to fix."""
    shown = _shown(form)
    try:
        school = SchoolCreate.model_validate(_data(shown))
        created = create_school(session, school=school, actor=page.actor)
    except ValidationError as exc:
        errors = field_errors(page, exc)
        return _form(page, session, school=None, values=shown, errors=errors, status_code=422)
    except InvalidPlace:
        session.rollback()
        errors = _place_error(page)
        return _form(page, session, school=None, values=shown, errors=errors, status_code=422)
    return page.redirect(page.url(f"/schools?notice=created&school={created.id}"))


@router.get("/schools/{school_id}/edit")
def edit_school(page: StaffPage, session: SessionDep, school_id: SchoolId) -> Response:
    """The school's form, filled in (a school not mapped yet has no municipality chosen)."""
    school = get_school(session, school_id=school_id)
    values = {name: getattr(school, name) or "" for name in _FIELDS}
    values["municipality"] = school.municipality_code or ""
    values["archived"] = "1" if school.archived_at else ""
    return _form(page, session, school=school, values=values, errors={})


@router.post("/schools/{school_id}/edit")
def update_school_page(
    page: StaffPage, form: PostedForm, session: SessionDep, school_id: SchoolId
) -> Response:
    """Change the school (an empty address or area clears it)."""
    school = get_school(session, school_id=school_id)
    shown = _shown(form)
    shown["archived"] = "1" if form.get("archived") == "1" else ""
    try:
        change = SchoolUpdate.model_validate({**_data(shown), "archived": bool(shown["archived"])})
        update_school(session, school_id=school_id, change=change, actor=page.actor)
    except ValidationError as exc:
        errors = field_errors(page, exc)
        return _form(page, session, school=school, values=shown, errors=errors, status_code=422)
    except InvalidPlace:
        session.rollback()
        errors = _place_error(page)
        return _form(page, session, school=school, values=shown, errors=errors, status_code=422)
    return page.redirect(page.url("/schools?notice=saved"))
