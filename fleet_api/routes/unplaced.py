"""``/unplaced``: records whose bounds allow more than one visit, and staff placing them.

A record of a boot whose clock was never synced is placed by its tag or by the bounds
that seq order gives it (:mod:`fleet_api.bounds`); when neither decides it is kept
*unplaced*, counted nowhere, and listed here with its bounds and candidate visits. Staff
may assign it to one of them, or undo that; each change is in the audit log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from broker.messages import utc_now
from fleet_api.deps import (
    AUTH_RESPONSES,
    ApiActor,
    Limit,
    Offset,
    ReadAccess,
    SessionDep,
    StaffAccess,
)
from fleet_api.models.fields import TextRules
from fleet_api.models.unplaced import (
    Assigned,
    AssignUnplaced,
    UnassignUnplaced,
    UnplacedList,
    UnplacedPublic,
)
from fleet_api.problems import problem_responses
from fleet_api.store import unplaced as store

router = APIRouter(
    prefix="/unplaced", tags=["unplaced"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)

ExhibitQuery = Annotated[
    str | None, TextRules(64), Query(description="only this exhibit's records")
]
VisitQuery = Annotated[
    int | None, Query(ge=1, le=2**63 - 1, description="only those that may be this visit's")
]


@router.get("", responses=problem_responses(422))
def list_unplaced(
    session: SessionDep,
    exhibit_id: ExhibitQuery = None,
    visit_id: VisitQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> UnplacedList:
    """Unplaced records (staff-assigned ones too, with who and when), by exhibit and seq."""
    total, records = store.list_unplaced(
        session.connection(), exhibit_id=exhibit_id, visit_id=visit_id, limit=limit, offset=offset
    )
    return UnplacedList(
        total=total,
        records=[UnplacedPublic.model_validate(record, from_attributes=True) for record in records],
    )


@router.post("/assign", dependencies=[StaffAccess], responses=problem_responses(404, 409, 422))
def assign_unplaced(body: AssignUnplaced, session: SessionDep, actor: ApiActor) -> Assigned:
    """Count unplaced records in one of their candidate visits (409 ``not_a_candidate``
    if the visit is not a candidate of every one; 404 if a seq is not unplaced)."""
    changed = store.assign(
        session.connection(),
        exhibit_id=body.exhibit_id,
        seqs=body.seqs,
        visit_id=body.visit_id,
        actor=actor,
        now=utc_now(),
    )
    session.commit()
    return Assigned(assigned=changed)


@router.post("/unassign", dependencies=[StaffAccess], responses=problem_responses(404, 422))
def unassign_unplaced(body: UnassignUnplaced, session: SessionDep, actor: ApiActor) -> Assigned:
    """Undo staff's assignment: the records are unplaced again."""
    changed = store.assign(
        session.connection(),
        exhibit_id=body.exhibit_id,
        seqs=body.seqs,
        visit_id=None,
        actor=actor,
        now=utc_now(),
    )
    session.commit()
    return Assigned(unassigned=changed)
