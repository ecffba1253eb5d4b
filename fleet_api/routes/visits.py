"""``/visits``: schedule visits (a school, a UTC time range, the exhibits taken)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from fleet_api.deps import Limit, Offset, SessionDep
from fleet_api.models.visits import VisitCreate, VisitPublic
from fleet_api.problems import problem_responses
from fleet_api.store import visits as store

router = APIRouter(prefix="/visits", tags=["visits"])

VisitPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="the visit's id")]


@router.post("", status_code=201, responses=problem_responses(409, 422))
def create_visit(visit: VisitCreate, session: SessionDep, response: Response) -> VisitPublic:
    """Schedule a visit; an exhibit cannot be in two visits at overlapping times."""
    created = store.create_visit(session, visit=visit)
    response.headers["Location"] = f"/visits/{created.id}"
    return created


@router.get("", responses=problem_responses(422))
def list_visits(session: SessionDep, limit: Limit = 100, offset: Offset = 0) -> list[VisitPublic]:
    """Visits, by start time."""
    return store.list_visits(session, limit=limit, offset=offset)


@router.get("/{visit_id}", responses=problem_responses(404, 422))
def get_visit(visit_id: VisitPath, session: SessionDep) -> VisitPublic:
    """One visit."""
    return store.get_visit(session, visit_id=visit_id)
