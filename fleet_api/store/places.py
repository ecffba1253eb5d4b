"""Places in the database: read them, write a country's data, resolve a school's place,
and map schools whose places are still free text.

``places`` keeps every place ever imported (an ended municipality stays, with its end
date and successor, so old schools still map); an import updates and adds, never deletes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from fleet_api.errors import InvalidPlace, UnknownPlace
from fleet_api.places.catalogue import Dataset, Place
from fleet_api.places.matching import REPORT_REGION_KINDS, map_school, match
from fleet_api.store.audit import Actor, record_change
from fleet_api.tables import schools
from fleet_api.tables_places import place_datasets, places

_COLUMNS = (
    "code",
    "country",
    "kind",
    "name",
    "name_en",
    "short_name",
    "iso_code",
    "official_code",
    "region_code",
    "statistical_region_code",
    "valid_from",
    "valid_to",
    "successor_code",
)


def _row(place: Place) -> dict[str, Any]:
    return {name: getattr(place, name) for name in _COLUMNS} | {"aliases": list(place.aliases)}


def _place(row: Any) -> Place:
    values = {name: row[name] for name in _COLUMNS}
    return Place(**values, aliases=tuple(row["aliases"] or ()))


def read_places(connection: Connection, *, country: str | None = None) -> list[Place]:
    """Every stored place (of ``country``), by country, kind and name."""
    statement = select(places).order_by(places.c.country, places.c.kind, places.c.name)
    if country is not None:
        statement = statement.where(places.c.country == country)
    return [_place(row) for row in connection.execute(statement).mappings()]


def get_place(connection: Connection, code: str) -> Place:
    """The place with ``code``; UnknownPlace if there is none."""
    row = connection.execute(select(places).where(places.c.code == code)).mappings().first()
    if row is None:
        raise UnknownPlace(f"no place has the code {code!r}")
    return _place(row)


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """Where a country's stored places come from, and as of when."""

    country: str
    as_of: date
    compiled: date | None
    sources: list[dict[str, str]]
    imported_at: datetime
    imported_from: str


def read_datasets(connection: Connection) -> list[DatasetInfo]:
    """One row per country, by country."""
    rows = connection.execute(select(place_datasets).order_by(place_datasets.c.country))
    return [DatasetInfo(**row) for row in rows.mappings()]


def write_dataset(
    connection: Connection, dataset: Dataset, *, imported_from: str, now: datetime
) -> tuple[int, int]:
    """Store ``dataset``'s places (added and updated; none removed): (added, changed)."""
    stored = {p.code: p for p in read_places(connection, country=dataset.country)}
    added = changed = 0
    for place in dataset.places:
        old = stored.get(place.code)
        if old is None:
            connection.execute(places.insert().values(**_row(place)))
            added += 1
        elif old != place:
            connection.execute(
                places.update().where(places.c.code == place.code).values(**_row(place))
            )
            changed += 1
    info = {
        "as_of": dataset.as_of,
        "compiled": dataset.compiled,
        "sources": [dict(source) for source in dataset.sources],
        "imported_at": now,
        "imported_from": imported_from[:500],
    }
    exists = connection.execute(
        select(place_datasets.c.country).where(place_datasets.c.country == dataset.country)
    ).first()
    if exists:
        connection.execute(
            place_datasets.update()
            .where(place_datasets.c.country == dataset.country)
            .values(**info)
        )
    else:
        connection.execute(place_datasets.insert().values(country=dataset.country, **info))
    return added, changed


def resolve_school_place(
    connection: Connection, *, municipality: str, region: str | None, today: date
) -> tuple[Place, Place | None]:
    """The municipality (in force ``today``) a school's text names, and its region.

    InvalidPlace, naming the fix, if the text names no place, several, a place not in
    force, or a region other than the municipality's.
    """
    known = read_places(connection)
    by_code = {p.code: p for p in known}
    found = match(municipality, [p for p in known if p.is_municipality])
    if found.place is None:
        if found.reason == "ambiguous":
            raise InvalidPlace(
                f"municipality {municipality!r} fits several places "
                f"({', '.join(found.candidates)}): give the code"
            )
        raise InvalidPlace(
            f"municipality {municipality!r} is not a known place: give a code or an "
            "official name from GET /places?kind=municipality"
        )
    place = found.place
    if not place.in_force(today):
        heir = by_code.get(place.successor_code or "")
        instead = f": it is now part of {heir.name} ({heir.code})" if heir else ""
        raise InvalidPlace(f"{place.name} is no longer in force since {place.valid_to}{instead}")
    own = by_code.get(place.region_code or "")
    if region is not None and region.strip():
        said = match(region, [p for p in known if p.kind in REPORT_REGION_KINDS])
        if said.place is None or own is None or said.place.code != own.code:
            where = f"{own.label} ({own.code})" if own else "no region"
            raise InvalidPlace(
                f"region {region!r} is not the region of {place.name}, which is in {where}: "
                "leave the region out, it follows from the municipality"
            )
    return place, own


@dataclass(frozen=True, slots=True)
class UnmappedSchool:
    """A school whose municipality is still free text, and why it could not be mapped."""

    school_id: int
    name: str
    municipality: str
    region: str
    problems: list[str]


def map_schools(
    connection: Connection, *, actor: Actor, now: datetime, write: bool = True
) -> list[UnmappedSchool]:
    """Map every school whose municipality is not a place yet; the ones that stay unmapped.

    Each school mapped gets an audit entry; the free text stays in the school's row. With
    ``write=False`` nothing changes: only the schools that would stay unmapped are listed.
    """
    known = read_places(connection)
    left = []
    for row in connection.execute(
        select(schools.c.id, schools.c.name, schools.c.municipality, schools.c.region)
        .where(schools.c.municipality_code.is_(None))
        .order_by(schools.c.id)
    ).all():
        found = map_school(row.municipality, row.region, known)
        if found.mapped and not write:
            continue
        if found.mapped:
            after = {"municipality_code": found.municipality_code, "region_code": found.region_code}
            connection.execute(schools.update().where(schools.c.id == row.id).values(**after))
            record_change(
                connection,
                actor=actor,
                action="school.place_mapped",
                entity="school",
                entity_id=row.id,
                before={"municipality": row.municipality, "region": row.region},
                after=after,
                reason="; ".join(found.problems) or "free text mapped to a canonical place",
                at=now,
            )
            continue
        if found.region_code is not None and write:
            connection.execute(
                schools.update().where(schools.c.id == row.id).values(region_code=found.region_code)
            )
        left.append(UnmappedSchool(row.id, row.name, row.municipality, row.region, found.problems))
    return left
