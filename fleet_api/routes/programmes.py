"""``/programmes``: what the centre teaches on its visits (name, target grades, STEM area).

A visit delivers one or more programmes (``programme_ids``); reports group by them.
"""

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
from fleet_api.models.programmes import ProgrammeCreate, ProgrammePublic, ProgrammeUpdate
from fleet_api.problems import problem_responses
from fleet_api.store import programmes as store

router = APIRouter(
    prefix="/programmes", tags=["programmes"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)

ProgrammePath = Annotated[int, Path(ge=1, le=ID_MAX, description="the programme's id")]


@router.post("", status_code=201, dependencies=[StaffAccess], responses=problem_responses(409, 422))
def create_programme(
    programme: ProgrammeCreate, session: SessionDep, response: Response, actor: ApiActor
) -> ProgrammePublic:
    """Add a programme; 409 if the name is taken."""
    created = store.create_programme(session, programme=programme, actor=actor)
    response.headers["Location"] = f"/programmes/{created.id}"
    return created


@router.get("", responses=LIST_RESPONSES | problem_responses(422))
def list_programmes(
    session: SessionDep, response: Response, limit: Limit = 100, offset: Offset = 0
) -> list[ProgrammePublic]:
    """Programmes by name, archived ones included."""
    set_total(response, store.count_programmes(session))
    return store.list_programmes(session, limit=limit, offset=offset)


@router.get("/{programme_id}", responses=problem_responses(404, 422))
def get_programme(programme_id: ProgrammePath, session: SessionDep) -> ProgrammePublic:
    """One programme."""
    return store.get_programme(session, programme_id=programme_id)


@router.patch(
    "/{programme_id}", dependencies=[StaffAccess], responses=problem_responses(404, 409, 422)
)
def update_programme(
    programme_id: ProgrammePath, change: ProgrammeUpdate, session: SessionDep, actor: ApiActor
) -> ProgrammePublic:
    """Change a programme; ``{"archived": true}`` archives it (no new visits deliver it)."""
    return store.update_programme(session, programme_id=programme_id, change=change, actor=actor)
