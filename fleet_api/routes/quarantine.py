"""``/quarantine``: messages ingestion set aside, for technicians to see what went wrong."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from fleet_api.deps import (
    AUTH_RESPONSES,
    LIST_RESPONSES,
    Limit,
    Offset,
    PeriodDep,
    SessionDep,
    TechnicianAccess,
    set_total,
)
from fleet_api.inbound import QuarantineReason
from fleet_api.models.fields import ID_MAX
from fleet_api.models.quarantine import QuarantinedPublic
from fleet_api.problems import problem_responses
from fleet_api.store import quarantine as store

router = APIRouter(
    prefix="/quarantine",
    tags=["quarantine"],
    dependencies=[TechnicianAccess],
    responses=AUTH_RESPONSES,
)

ReasonQuery = Annotated[QuarantineReason | None, Query(description="only this reason")]
ItemPath = Annotated[int, Path(ge=1, le=ID_MAX, description="the quarantined message's id")]


@router.get("", responses=LIST_RESPONSES | problem_responses(422))
def list_quarantined(
    session: SessionDep,
    response: Response,
    period: PeriodDep,
    reason: ReasonQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[QuarantinedPublic]:
    """Quarantined messages received in [from, to), newest first; payloads cut to 2 KiB."""
    start, end = period.start, period.end
    set_total(response, store.count_quarantined(session, reason=reason, start=start, end=end))
    return store.list_quarantined(
        session, limit=limit, offset=offset, reason=reason, start=start, end=end
    )


@router.get("/{item_id}", responses=problem_responses(404, 422))
def get_quarantined(item_id: ItemPath, session: SessionDep) -> QuarantinedPublic:
    """One quarantined message with all of its kept payload."""
    return store.get_quarantined(session, item_id=item_id)
