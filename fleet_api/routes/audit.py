"""``/audit``: the audit trail, read-only. Every change made through the API or the pages
is in it (who, when, through what, the values before and after); nothing in the API can
change or delete an entry, and the database refuses it too (migration 0006)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fleet_api.deps import (
    AUTH_RESPONSES,
    LIST_RESPONSES,
    Limit,
    Offset,
    PeriodDep,
    ReadAccess,
    SessionDep,
    set_total,
)
from fleet_api.models.audit import AuditEntry, AuditQuery, Entity
from fleet_api.models.fields import ID_MAX, TextRules
from fleet_api.problems import problem_responses
from fleet_api.store.audit import count_entries, list_entries

router = APIRouter(
    prefix="/audit", tags=["audit"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)


@router.get("", responses=LIST_RESPONSES | problem_responses(422))
def list_audit(
    session: SessionDep,
    response: Response,
    period: PeriodDep,
    entity: Annotated[Entity | None, Query(description="what the change is about")] = None,
    entity_id: Annotated[
        str | None, TextRules(64), Query(description="its id, e.g. a visit's")
    ] = None,
    action: Annotated[
        str | None,
        Query(pattern=r"^[a-z_]{1,20}\.[a-z_]{1,19}$", description="e.g. visit.cancel"),
    ] = None,
    actor_token_id: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="changes made with this token")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AuditEntry]:
    """Audit entries, newest first, filtered; ``from``/``to`` bound when they were made."""
    query = AuditQuery(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor_token_id=actor_token_id,
        start=period.start,
        end=period.end,
    )
    connection = session.connection()
    set_total(response, count_entries(connection, query))
    return list_entries(connection, query, limit=limit, offset=offset)
