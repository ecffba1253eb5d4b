"""Create and edit visits, and check their exhibits out and in (staff)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from fleet_api.deps import PublisherDep, SessionDep, SettingsDep
from fleet_api.errors import (
    BrokerUnavailable,
    Conflict,
    ExhibitBooked,
    ExhibitCheckedOut,
    ExhibitInRunningVisit,
    InvalidRequest,
    VisitCancelled,
)
from fleet_api.models.visits import VisitCreate, VisitPublic, VisitUpdate
from fleet_api.outbound import check_in, check_out
from fleet_api.store.exhibits import list_exhibits
from fleet_api.store.programmes import list_programmes
from fleet_api.store.schools import list_schools
from fleet_api.store.visit_changes import cancel_visit, reinstate_visit, update_visit
from fleet_api.store.visits import create_visit, get_visit
from fleet_api.web.forms import field_errors, optional_int, optional_text, parse_local
from fleet_api.web.page import PREFIX, Page, PostedForm, StaffPage
from fleet_api.web.route import PageRoute
from fleet_api.web.visits import VisitId, local_input

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

_CHOICES_LIMIT = 1000


def _values_of(visit: VisitPublic, page: Page) -> dict[str, Any]:
    return {
        "school_id": str(visit.school_id),
        "starts_at": local_input(page, visit.starts_at),
        "ends_at": local_input(page, visit.ends_at),
        "exhibit_ids": visit.exhibit_ids,
        "programme_ids": [str(p) for p in visit.programme_ids],
        "pupils": "" if visit.pupils is None else str(visit.pupils),
        "teachers": "" if visit.teachers is None else str(visit.teachers),
        "grades": [str(g) for g in visit.grades or []],
        "staff": visit.staff or "",
        "notes": visit.notes or "",
    }


def _form(
    page: Page,
    session: SessionDep,
    *,
    visit: VisitPublic | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return page.render(
        "visits/form.html",
        status_code=status_code,
        visit=visit,
        values=values,
        errors=errors,
        # What a new visit may take: schools, exhibits and programmes in service, and
        # whatever this visit already has.
        schools=[
            s
            for s in list_schools(session, limit=_CHOICES_LIMIT)
            if s.archived_at is None or (visit is not None and s.id == visit.school_id)
        ],
        exhibits=[
            e
            for e in list_exhibits(session, limit=_CHOICES_LIMIT)
            if e.retired_at is None or (visit is not None and e.id in visit.exhibit_ids)
        ],
        programmes=list_programmes(
            session,
            limit=_CHOICES_LIMIT,
            archived=False,
            also=visit.programme_ids if visit else (),
        ),
    )


def _read(page: Page, form: FormData) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The form as shown again (strings), as model data, and the errors found so far."""
    shown: dict[str, Any] = {
        name: str(form.get(name, "")).strip()
        for name in ("school_id", "starts_at", "ends_at", "pupils", "teachers", "staff", "notes")
    }
    shown["exhibit_ids"] = [str(v) for v in form.getlist("exhibit_ids")]
    shown["programme_ids"] = [str(v) for v in form.getlist("programme_ids")]
    shown["grades"] = [str(v) for v in form.getlist("grades")]
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "school_id": shown["school_id"] or None,
        "exhibit_ids": shown["exhibit_ids"],
        "grades": shown["grades"] or None,
        "programme_ids": shown["programme_ids"],
        "pupils": optional_int(shown["pupils"]),
        "teachers": optional_int(shown["teachers"]),
        "staff": optional_text(shown["staff"]),
        "notes": optional_text(shown["notes"]),
    }
    for name in ("starts_at", "ends_at"):
        moment = parse_local(shown[name], page.fmt.zone)
        if moment is None:
            errors[name] = page.gettext("Enter a date and time.")
        data[name] = moment
    if not shown["school_id"]:
        errors["school_id"] = page.gettext("Choose a school.")
    return shown, data, errors


@router.get("/visits/new")
def new_visit(page: StaffPage, session: SessionDep) -> Response:
    """An empty visit form, starting at the next full hour for three hours."""
    start = page.fmt.local(page.now).replace(minute=0, second=0, microsecond=0)
    start += timedelta(hours=1)
    values: dict[str, Any] = {
        "school_id": page.request.query_params.get("school", ""),
        "starts_at": local_input(page, start),
        "ends_at": local_input(page, start + timedelta(hours=3)),
        "exhibit_ids": [],
        "programme_ids": [],
        "grades": [],
        **dict.fromkeys(("pupils", "teachers", "staff", "notes"), ""),
    }
    return _form(page, session, visit=None, values=values, errors={})


@router.post("/visits/new")
def create_visit_page(page: StaffPage, form: PostedForm, session: SessionDep) -> Response:
    """Schedule the visit, or show the form again with what to fix."""
    shown, data, errors = _read(page, form)
    created: VisitPublic | None = None
    if not errors:
        try:
            created = create_visit(
                session, visit=VisitCreate.model_validate(data), actor=page.actor
            )
        except ValidationError as exc:
            errors = field_errors(page, exc, model_check=_window(page))
        except (Conflict, InvalidRequest) as exc:
            session.rollback()
            errors = {"form": _refusal(page, exc)}
    if created is None:
        return _form(page, session, visit=None, values=shown, errors=errors, status_code=422)
    return page.redirect(page.url(f"/visits/{created.id}?notice=created"))


@router.get("/visits/{visit_id}/edit")
def edit_visit(page: StaffPage, session: SessionDep, visit_id: VisitId) -> Response:
    """The visit's form, filled in."""
    visit = get_visit(session, visit_id=visit_id)
    return _form(page, session, visit=visit, values=_values_of(visit, page), errors={})


@router.post("/visits/{visit_id}/edit")
def update_visit_page(
    page: StaffPage, form: PostedForm, session: SessionDep, visit_id: VisitId
) -> Response:
    """Change the visit (an empty optional field clears it)."""
    visit = get_visit(session, visit_id=visit_id)
    shown, data, errors = _read(page, form)
    if not errors:
        try:
            change = VisitUpdate.model_validate(data)
            update_visit(session, visit_id=visit_id, change=change, actor=page.actor)
        except ValidationError as exc:
            errors = field_errors(page, exc, model_check=_window(page))
        except (Conflict, InvalidRequest) as exc:
            session.rollback()
            errors = {"form": _refusal(page, exc)}
    if errors:
        return _form(page, session, visit=visit, values=shown, errors=errors, status_code=422)
    return page.redirect(page.url(f"/visits/{visit_id}?notice=saved"))


def _window(page: Page) -> str:
    return page.gettext("The end must be after the start, and a visit lasts at most 31 days.")


def _refusal(page: Page, exc: Exception) -> str:
    # Said in the page's language with local times, never the API's English sentence.
    if isinstance(exc, ExhibitBooked) and exc.visit_id is not None:
        return page.gettext(
            "Exhibit %(exhibit)s is already on field trip %(visit)s from %(start)s to %(end)s.",
            exhibit=exc.exhibit_id,
            visit=exc.visit_id,
            start=page.fmt.when(exc.starts_at, case="genitive"),
            end=page.fmt.when(exc.ends_at, case="genitive"),
        )
    if isinstance(exc, Conflict):
        return page.gettext("An exhibit is already in another visit at that time.")
    return page.gettext(
        "The visit cannot be saved: a school, exhibit or programme it names has been "
        "archived or retired meanwhile. Reload the form and choose again."
    )


@router.post("/visits/{visit_id}/checkout")
def checkout_page(
    page: StaffPage,
    form: PostedForm,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    visit_id: VisitId,
) -> Response:
    """Send the visit's exhibits their assignment (what places their data in this visit)."""
    timeout_s = settings.mqtt_publish_timeout_s
    try:
        check_out(session, publisher, visit_id=visit_id, timeout_s=timeout_s, actor=page.actor)
    except (BrokerUnavailable, Conflict) as exc:
        return _refused(page, session, visit_id, exc)
    return _sent(page, session, visit_id, "checked_out")


@router.post("/visits/{visit_id}/checkin")
def checkin_page(
    page: StaffPage,
    form: PostedForm,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    visit_id: VisitId,
) -> Response:
    """Tell the visit's exhibits the visit is over."""
    timeout_s = settings.mqtt_publish_timeout_s
    try:
        check_in(session, publisher, visit_id=visit_id, timeout_s=timeout_s, actor=page.actor)
    except (BrokerUnavailable, Conflict) as exc:
        return _refused(page, session, visit_id, exc)
    return _sent(page, session, visit_id, "checked_in")


def _sent(page: Page, session: SessionDep, visit_id: int, notice: str) -> Response:
    if page.is_htmx:
        visit = get_visit(session, visit_id=visit_id)
        return page.render("visits/_checkout.html", visit=visit, notice=notice, problem=None)
    return page.redirect(page.url(f"/visits/{visit_id}?notice={notice}"))


def _refused(page: Page, session: SessionDep, visit_id: int, exc: Exception) -> Response:
    # What the broker did acknowledge is committed by outbound; the rest is not.
    session.rollback()
    problem = "broker" if isinstance(exc, BrokerUnavailable) else "checked_out_elsewhere"
    if isinstance(exc, VisitCancelled):
        problem = "cancelled"
    if isinstance(exc, ExhibitInRunningVisit):
        problem = "running_elsewhere"
    if page.is_htmx:
        visit = get_visit(session, visit_id=visit_id)
        detail = None
        if isinstance(exc, ExhibitCheckedOut) and exc.visit_id is not None:
            detail = page.gettext(
                "Exhibit %(exhibit)s is still checked out to field trip %(visit)s.",
                exhibit=exc.exhibit_id,
                visit=exc.visit_id,
            )
        if isinstance(exc, ExhibitInRunningVisit) and exc.visit_id is not None:
            detail = page.gettext(
                "Exhibit %(exhibit)s is on field trip %(visit)s, which is running now.",
                exhibit=exc.exhibit_id,
                visit=exc.visit_id,
            )
        return page.render(
            "visits/_checkout.html", visit=visit, notice=None, problem=problem, detail=detail
        )
    return page.redirect(page.url(f"/visits/{visit_id}?problem={problem}"))


def _status_change(
    page: Page, form: FormData, session: SessionDep, visit_id: int, *, cancel: bool
) -> Response:
    reason = str(form.get("reason", "")).strip()
    if not reason:
        return page.redirect(page.url(f"/visits/{visit_id}?problem=reason"))
    change = cancel_visit if cancel else reinstate_visit
    try:
        change(session, visit_id=visit_id, reason=reason[:1000], actor=page.actor)
    except InvalidRequest:
        session.rollback()
    notice = "cancelled" if cancel else "reinstated"
    return page.redirect(page.url(f"/visits/{visit_id}?notice={notice}"))


@router.post("/visits/{visit_id}/cancel")
def cancel_page(
    page: StaffPage, form: PostedForm, session: SessionDep, visit_id: VisitId
) -> Response:
    """Cancel the visit (or mark it not held), with the reason given."""
    get_visit(session, visit_id=visit_id)
    return _status_change(page, form, session, visit_id, cancel=True)


@router.post("/visits/{visit_id}/reinstate")
def reinstate_page(
    page: StaffPage, form: PostedForm, session: SessionDep, visit_id: VisitId
) -> Response:
    """Undo a cancellation, with the reason given."""
    get_visit(session, visit_id=visit_id)
    return _status_change(page, form, session, visit_id, cancel=False)
