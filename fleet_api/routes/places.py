"""``/places``: the canonical municipalities, state cities and regions schools are in.

Read-only over the API: the data is updated with ``fleet-api places import FILE``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from broker.messages import utc_now
from fleet_api.deps import AUTH_RESPONSES, ReadAccess, SessionDep, SettingsDep
from fleet_api.models.fields import TextRules
from fleet_api.models.places import PlaceDataset, PlaceKind, PlacePublic
from fleet_api.problems import problem_responses
from fleet_api.settings import Settings
from fleet_api.store import places as store

router = APIRouter(
    prefix="/places", tags=["places"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)


def local_today(settings: Settings) -> date:
    """Today in the centre's time zone: a place ends at the end of its last local day."""
    return utc_now().astimezone(settings.zone).date()


Country = Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


@router.get("", responses=problem_responses(422))
def list_places(
    session: SessionDep,
    settings: SettingsDep,
    country: Country = None,
    kind: PlaceKind | None = None,
    in_force: Annotated[
        bool | None, Query(description="true: in force today; false: ended; omitted: all")
    ] = None,
) -> list[PlacePublic]:
    """Places by country, kind and name (a few hundred at most: not paged)."""
    today = local_today(settings)
    found = [
        PlacePublic.of(place, today)
        for place in store.read_places(session.connection(), country=country)
        if kind is None or place.kind == kind
    ]
    return [p for p in found if in_force is None or p.in_force == in_force]


@router.get("/datasets")
def list_datasets(session: SessionDep) -> list[PlaceDataset]:
    """Each country's data: as of when, its sources, and how it was last imported."""
    return [
        PlaceDataset.model_validate(info, from_attributes=True)
        for info in store.read_datasets(session.connection())
    ]


@router.get("/{code}", responses=problem_responses(404, 422))
def get_place(
    code: Annotated[str, TextRules(40), Path(description="the place's code")],
    session: SessionDep,
    settings: SettingsDep,
) -> PlacePublic:
    """One place."""
    return PlacePublic.of(store.get_place(session.connection(), code), local_today(settings))
