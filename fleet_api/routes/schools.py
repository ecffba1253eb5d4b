"""``/schools``: the schools the exhibits travel to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from fleet_api.deps import (
    AUTH_RESPONSES,
    LIST_RESPONSES,
    ApiActor,
    Limit,
    Offset,
    ReadAccess,
    SessionDep,
    StaffAccess,
    set_total,
)
from fleet_api.models.fields import ID_MAX
from fleet_api.models.schools import SchoolCreate, SchoolPublic, SchoolUpdate
from fleet_api.problems import problem_responses
from fleet_api.store import schools as store

router = APIRouter(
    prefix="/schools", tags=["schools"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)

SchoolPath = Annotated[int, Path(ge=1, le=ID_MAX, description="the school's id")]


@router.post("", status_code=201, dependencies=[StaffAccess], responses=problem_responses(422))
def create_school(
    school: SchoolCreate, session: SessionDep, response: Response, actor: ApiActor
) -> SchoolPublic:
    """Add a school."""
    created = store.create_school(session, school=school, actor=actor)
    response.headers["Location"] = f"/schools/{created.id}"
    return created


@router.get("", responses=LIST_RESPONSES | problem_responses(422))
def list_schools(
    session: SessionDep, response: Response, limit: Limit = 100, offset: Offset = 0
) -> list[SchoolPublic]:
    """Schools, by id."""
    set_total(response, store.count_schools(session))
    return store.list_schools(session, limit=limit, offset=offset)


@router.get("/{school_id}", responses=problem_responses(404, 422))
def get_school(school_id: SchoolPath, session: SessionDep) -> SchoolPublic:
    """One school."""
    return store.get_school(session, school_id=school_id)


@router.patch("/{school_id}", dependencies=[StaffAccess], responses=problem_responses(404, 422))
def update_school(
    school_id: SchoolPath, change: SchoolUpdate, session: SessionDep, actor: ApiActor
) -> SchoolPublic:
    """Change a school; only the fields given change (``null`` clears address or area).

    ``{"archived": true}`` archives it: no new visits to it, its visits and history stay;
    ``false`` restores it.
    """
    return store.update_school(session, school_id=school_id, change=change, actor=actor)
