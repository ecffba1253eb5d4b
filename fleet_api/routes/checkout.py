"""``/visits/{id}/checkout`` and ``/checkin``: tell a visit's exhibits which visit they are on.

Checking out publishes a retained :class:`broker.messages.Assignment` to each exhibit of
the visit; the agent tags every record with it, which is what places a record in the
right visit even when the Pi's clock is wrong. Checking in clears it. 503 (nothing
recorded for the exhibits not reached) when the broker does not acknowledge in time.
"""

from __future__ import annotations

from fastapi import APIRouter

from fleet_api.deps import (
    AUTH_RESPONSES,
    ApiActor,
    PublisherDep,
    ReadAccess,
    SessionDep,
    SettingsDep,
    StaffAccess,
)
from fleet_api.models.visits import VisitPublic
from fleet_api.outbound import check_in, check_out
from fleet_api.problems import problem_responses
from fleet_api.routes.visits import VisitPath

router = APIRouter(
    prefix="/visits",
    tags=["visits"],
    dependencies=[ReadAccess, StaffAccess],
    responses=AUTH_RESPONSES,
)


@router.post("/{visit_id}/checkout", responses=problem_responses(404, 409, 422, 503))
def checkout_visit(
    visit_id: VisitPath,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    actor: ApiActor,
) -> VisitPublic:
    """Send each exhibit of the visit its retained assignment (again, if repeated).

    409 if an exhibit is still checked out to another visit, or the visit is cancelled.
    """
    return check_out(
        session,
        publisher,
        visit_id=visit_id,
        timeout_s=settings.mqtt_publish_timeout_s,
        actor=actor,
    )


@router.post("/{visit_id}/checkin", responses=problem_responses(404, 422, 503))
def checkin_visit(
    visit_id: VisitPath,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    actor: ApiActor,
) -> VisitPublic:
    """Clear the retained assignment of the visit's exhibits that still hold it; the visit
    is held from now on (unless it is cancelled)."""
    return check_in(
        session,
        publisher,
        visit_id=visit_id,
        timeout_s=settings.mqtt_publish_timeout_s,
        actor=actor,
    )
