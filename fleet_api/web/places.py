"""Places: the canonical municipalities and regions, where the data comes from, and the
schools whose place is still free text."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Response
from sqlalchemy import Connection

from fleet_api.deps import SessionDep
from fleet_api.places.catalogue import Place
from fleet_api.places.matching import collation_key
from fleet_api.store.audit import Actor
from fleet_api.store.places import map_schools, read_datasets, read_places
from fleet_api.web.page import PREFIX, ViewerPage
from fleet_api.web.route import PageRoute

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class RegionGroup:
    """A region and its municipalities, as a list or an ``<optgroup>`` shows them."""

    region: Place | None
    municipalities: list[Place]


def _grouped(places: list[Place], keep: set[str]) -> list[RegionGroup]:
    by_code = {place.code: place for place in places}
    members: defaultdict[str, list[Place]] = defaultdict(list)
    for place in places:
        if place.is_municipality and place.code in keep:
            members[place.region_code or ""].append(place)
    groups = [
        RegionGroup(by_code.get(code), sorted(found, key=lambda p: collation_key(p.name)))
        for code, found in members.items()
    ]
    return sorted(groups, key=lambda g: (g.region is None, g.region.label if g.region else ""))


def municipality_choices(connection: Connection, today: date) -> list[RegionGroup]:
    """The municipalities a new school can be in (in force ``today``), by region."""
    known = read_places(connection)
    return _grouped(known, {p.code for p in known if p.in_force(today)})


@router.get("/places")
def places_page(page: ViewerPage, session: SessionDep) -> Response:
    """Every country's regions and municipalities, their codes and sources; schools whose
    place could not be mapped."""
    connection = session.connection()
    known = read_places(connection)
    unmapped = map_schools(
        connection, actor=Actor(name="page", via="page"), now=page.now, write=False
    )
    return page.render(
        "places.html",
        datasets=read_datasets(connection),
        groups=_grouped(known, {p.code for p in known}),
        statistical={p.code: p for p in known if p.kind == "statistical_region"},
        by_code={p.code: p for p in known},
        today=page.fmt.local(page.now).date(),
        unmapped=unmapped,
    )
