"""Schools: create, read, list."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_api.errors import UnknownSchool
from fleet_api.models.schools import SchoolCreate, SchoolPublic
from fleet_api.tables import schools


def create_school(session: Session, *, school: SchoolCreate) -> SchoolPublic:
    """Store ``school`` and return it with its new id."""
    new_id = session.execute(
        schools.insert().values(**school.model_dump()).returning(schools.c.id)
    ).scalar_one()
    session.commit()
    return SchoolPublic(id=new_id, **school.model_dump())


def get_school(session: Session, *, school_id: int) -> SchoolPublic:
    """The school with ``school_id``; UnknownSchool if there is none."""
    row = session.execute(select(schools).where(schools.c.id == school_id)).mappings().first()
    if row is None:
        raise UnknownSchool(f"school {school_id} does not exist")
    return SchoolPublic.model_validate(dict(row))


def list_schools(session: Session, *, limit: int, offset: int = 0) -> list[SchoolPublic]:
    """Schools ordered by id."""
    statement = select(schools).order_by(schools.c.id).limit(limit).offset(offset)
    return [SchoolPublic.model_validate(dict(row)) for row in session.execute(statement).mappings()]
