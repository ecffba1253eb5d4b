"""``/schools``: the schools the exhibits travel to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from fleet_api.deps import Limit, Offset, SessionDep
from fleet_api.models.schools import SchoolCreate, SchoolPublic
from fleet_api.problems import problem_responses
from fleet_api.store import schools as store

router = APIRouter(prefix="/schools", tags=["schools"])

SchoolPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="the school's id")]


@router.post("", status_code=201, responses=problem_responses(422))
def create_school(school: SchoolCreate, session: SessionDep, response: Response) -> SchoolPublic:
    """Add a school."""
    created = store.create_school(session, school=school)
    response.headers["Location"] = f"/schools/{created.id}"
    return created


@router.get("", responses=problem_responses(422))
def list_schools(session: SessionDep, limit: Limit = 100, offset: Offset = 0) -> list[SchoolPublic]:
    """Schools, by id."""
    return store.list_schools(session, limit=limit, offset=offset)


@router.get("/{school_id}", responses=problem_responses(404, 422))
def get_school(school_id: SchoolPath, session: SessionDep) -> SchoolPublic:
    """One school."""
    return store.get_school(session, school_id=school_id)
