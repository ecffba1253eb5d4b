"""``/exhibits``: register exhibits and see their latest status."""

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
    TechnicianAccess,
    set_total,
)
from fleet_api.models.exhibits import ExhibitCreate, ExhibitPublic, ExhibitUpdate
from fleet_api.models.fields import TextRules
from fleet_api.problems import problem_responses
from fleet_api.store import exhibits as store

router = APIRouter(
    prefix="/exhibits", tags=["exhibits"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)

ExhibitPath = Annotated[str, TextRules(200), Path(description="the exhibit's id")]


@router.post(
    "", status_code=201, dependencies=[TechnicianAccess], responses=problem_responses(409, 422)
)
def create_exhibit(
    exhibit: ExhibitCreate, session: SessionDep, response: Response, actor: ApiActor
) -> ExhibitPublic:
    """Register an exhibit under the id its Pi uses in MQTT topics."""
    created = store.create_exhibit(session, exhibit=exhibit, actor=actor)
    response.headers["Location"] = f"/exhibits/{created.id}"
    return created


@router.get("", responses=LIST_RESPONSES | problem_responses(422))
def list_exhibits(
    session: SessionDep, response: Response, limit: Limit = 100, offset: Offset = 0
) -> list[ExhibitPublic]:
    """Registered exhibits, by id."""
    set_total(response, store.count_exhibits(session))
    return store.list_exhibits(session, limit=limit, offset=offset)


@router.get("/{exhibit_id}", responses=problem_responses(404, 422))
def get_exhibit(exhibit_id: ExhibitPath, session: SessionDep) -> ExhibitPublic:
    """One exhibit with its latest status."""
    return store.get_exhibit(session, exhibit_id=exhibit_id)


@router.patch(
    "/{exhibit_id}", dependencies=[TechnicianAccess], responses=problem_responses(404, 422)
)
def update_exhibit(
    exhibit_id: ExhibitPath, change: ExhibitUpdate, session: SessionDep, actor: ApiActor
) -> ExhibitPublic:
    """Change an exhibit's name, kind, inputs, notes or expected config hash; only the fields
    given change (``expected_config_hash: null`` expects nothing).

    ``{"retired": true}`` retires it: no new visits, its data and history stay;
    ``false`` brings it back into service.
    """
    return store.update_exhibit(session, exhibit_id=exhibit_id, change=change, actor=actor)
