"""``/visits/{id}/usage``: interactions of a visit per exhibit and input."""

from __future__ import annotations

from fastapi import APIRouter

from fleet_api.deps import AUTH_RESPONSES, ReadAccess, SessionDep
from fleet_api.models.usage import VisitUsage
from fleet_api.problems import problem_responses
from fleet_api.routes.visits import VisitPath
from fleet_api.store.usage import visit_usage

router = APIRouter(tags=["usage"], dependencies=[ReadAccess], responses=AUTH_RESPONSES)


@router.get("/visits/{visit_id}/usage", responses=problem_responses(404, 422))
def get_visit_usage(visit_id: VisitPath, session: SessionDep) -> VisitUsage:
    """Interactions attributed to the visit: every exhibit of it, inputs by name."""
    return visit_usage(session, visit_id=visit_id)
