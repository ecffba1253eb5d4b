"""``/visits``: schedule visits (a school, a UTC time range, the exhibits taken)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from fleet_api.deps import (
    AUTH_RESPONSES,
    LIST_RESPONSES,
    ApiActor,
    Limit,
    Offset,
    PeriodDep,
    ReadAccess,
    SessionDep,
    StaffAccess,
    set_total,
)
from fleet_api.models.fields import ID_MAX
from fleet_api.models.visits import VisitCreate, VisitPublic, VisitStatusChange, VisitUpdate
from fleet_api.problems import problem_responses
from fleet_api.store import visit_changes
from fleet_api.store import visits as store

router = APIRouter(
    prefix="/visits", tags=["visits"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)

VisitPath = Annotated[int, Path(ge=1, le=ID_MAX, description="the visit's id")]


@router.post("", status_code=201, dependencies=[StaffAccess], responses=problem_responses(409, 422))
def create_visit(
    visit: VisitCreate, session: SessionDep, response: Response, actor: ApiActor
) -> VisitPublic:
    """Schedule a visit; an exhibit cannot be in two visits at overlapping times."""
    created = store.create_visit(session, visit=visit, actor=actor)
    response.headers["Location"] = f"/visits/{created.id}"
    return created


@router.get("", responses=LIST_RESPONSES | problem_responses(422))
def list_visits(
    session: SessionDep,
    response: Response,
    period: PeriodDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[VisitPublic]:
    """Visits overlapping [from, to) (any part of the visit inside it), by start time."""
    start, end = period.start, period.end
    set_total(response, store.count_visits(session, start=start, end=end))
    return store.list_visits(session, limit=limit, offset=offset, start=start, end=end)


@router.get("/{visit_id}", responses=problem_responses(404, 422))
def get_visit(visit_id: VisitPath, session: SessionDep) -> VisitPublic:
    """One visit."""
    return store.get_visit(session, visit_id=visit_id)


@router.patch("/{visit_id}", dependencies=[StaffAccess], responses=problem_responses(404, 409, 422))
def update_visit(
    visit_id: VisitPath, change: VisitUpdate, session: SessionDep, actor: ApiActor
) -> VisitPublic:
    """Change a visit (e.g. record the pupils reached afterwards); only the fields given change.

    New times or exhibits re-attribute the records concerned at once, so usage and
    reports follow.
    """
    return visit_changes.update_visit(session, visit_id=visit_id, change=change, actor=actor)


@router.post(
    "/{visit_id}/cancel", dependencies=[StaffAccess], responses=problem_responses(404, 422)
)
def cancel_visit(
    visit_id: VisitPath, change: VisitStatusChange, session: SessionDep, actor: ApiActor
) -> VisitPublic:
    """Cancel a visit, or mark one that has ended as not held, giving the reason.

    A cancelled visit counts in no report (they list it apart) and cannot be checked
    out; its data and history stay. Cancelling again only replaces the reason.
    """
    return visit_changes.cancel_visit(session, visit_id=visit_id, reason=change.reason, actor=actor)


@router.post(
    "/{visit_id}/reinstate", dependencies=[StaffAccess], responses=problem_responses(404, 422)
)
def reinstate_visit(
    visit_id: VisitPath, change: VisitStatusChange, session: SessionDep, actor: ApiActor
) -> VisitPublic:
    """Undo a cancellation, giving the reason: the visit is planned again (held if it has
    ended). 422 if it is not cancelled."""
    return visit_changes.reinstate_visit(
        session, visit_id=visit_id, reason=change.reason, actor=actor
    )
