"""Schools: create, change, archive, read, list; every change audited.

A school is in a canonical place: the API's text (a place code or official name) is
resolved to a municipality in force (:func:`store.places.resolve_school_place`), whose
region it takes. Schools from before places existed may still have free text that no
place fits: they keep it, with no code, and are shown as not mapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from broker.messages import utc_now
from fleet_api.errors import UnknownSchool
from fleet_api.models.schools import SchoolCreate, SchoolPublic, SchoolUpdate
from fleet_api.places.catalogue import Place
from fleet_api.store.audit import Actor, changed_fields, record_change, snapshot
from fleet_api.store.places import read_places, resolve_school_place
from fleet_api.tables import schools


def _placed(
    connection: Connection, municipality: str, region: str | None, now: datetime
) -> dict[str, Any]:
    town, area = resolve_school_place(
        connection, municipality=municipality, region=region, today=now.date()
    )
    return {
        "municipality": town.name,
        "region": area.label if area else "",
        "municipality_code": town.code,
        "region_code": area.code if area else None,
    }


def create_school(
    session: Session, *, school: SchoolCreate, actor: Actor, now: datetime | None = None
) -> SchoolPublic:
    """Store ``school`` in its place and return it with its new id."""
    values = school.model_dump(exclude={"municipality", "region"})
    values |= _placed(session.connection(), school.municipality, school.region, now or utc_now())
    new_id = session.execute(schools.insert().values(**values).returning(schools.c.id)).scalar_one()
    created = get_school(session, school_id=new_id)
    record_change(
        session.connection(),
        actor=actor,
        action="school.create",
        entity="school",
        entity_id=new_id,
        after=snapshot(created),
    )
    session.commit()
    return created


def update_school(
    session: Session,
    *,
    school_id: int,
    change: SchoolUpdate,
    actor: Actor,
    now: datetime | None = None,
) -> SchoolPublic:
    """Change the fields given in ``change``; UnknownSchool if there is no such school."""
    current = get_school(session, school_id=school_id)
    given = change.model_dump(exclude_unset=True)
    archived = given.pop("archived", None)
    if archived is not None and archived != (current.archived_at is not None):
        given["archived_at"] = (now or utc_now()) if archived else None
    town, region = given.pop("municipality", None), given.pop("region", None)
    if town is not None or region is not None:
        # A region alone is checked against the school's municipality, which stays.
        wanted = town if town is not None else current.municipality_code or current.municipality
        given |= _placed(session.connection(), wanted, region, now or utc_now())
    if not given:
        return current
    session.execute(schools.update().where(schools.c.id == school_id).values(**given))
    changed = get_school(session, school_id=school_id)
    before, after = changed_fields(snapshot(current), snapshot(changed))
    if after:
        action = "school.update"
        if "archived_at" in after and len(after) == 1:
            action = "school.archive" if archived else "school.restore"
        record_change(
            session.connection(),
            actor=actor,
            action=action,
            entity="school",
            entity_id=school_id,
            before=before,
            after=after,
            at=now,
        )
    session.commit()
    return changed


def public(row: Any, known: Mapping[str, Place]) -> SchoolPublic:
    """A school row as the API shows it, names taken from its places."""
    town = known.get(row["municipality_code"] or "")
    area = known.get(row["region_code"] or "")
    return SchoolPublic(
        id=row["id"],
        name=row["name"],
        municipality=town.name if town else row["municipality"],
        region=area.label if area else row["region"],
        municipality_code=town.code if town else None,
        region_code=area.code if area else None,
        statistical_region_code=town.statistical_region_code if town else None,
        place_mapped=town is not None,
        address=row["address"],
        area=row["area"],
        archived_at=row["archived_at"],
    )


def _known(connection: Connection) -> dict[str, Place]:
    return {place.code: place for place in read_places(connection)}


def get_school(session: Session, *, school_id: int) -> SchoolPublic:
    """The school with ``school_id``; UnknownSchool if there is none."""
    row = session.execute(select(schools).where(schools.c.id == school_id)).mappings().first()
    if row is None:
        raise UnknownSchool(f"school {school_id} does not exist")
    return public(row, _known(session.connection()))


def count_schools(session: Session) -> int:
    """How many schools are stored."""
    return session.execute(select(func.count()).select_from(schools)).scalar_one()


def list_schools(
    session: Session, *, limit: int, offset: int = 0, archived: bool = True
) -> list[SchoolPublic]:
    """Schools ordered by id; without the archived ones if ``archived`` is False."""
    statement = select(schools).order_by(schools.c.id).limit(limit).offset(offset)
    if not archived:
        statement = statement.where(schools.c.archived_at.is_(None))
    known = _known(session.connection())
    return [public(row, known) for row in session.execute(statement).mappings()]
