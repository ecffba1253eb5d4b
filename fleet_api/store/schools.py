"""Schools: create, change, read, list."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet_api.errors import UnknownSchool
from fleet_api.models.schools import SchoolCreate, SchoolPublic, SchoolUpdate
from fleet_api.tables import schools


def create_school(session: Session, *, school: SchoolCreate) -> SchoolPublic:
    """Store ``school`` and return it with its new id."""
    new_id = session.execute(
        schools.insert().values(**school.model_dump()).returning(schools.c.id)
    ).scalar_one()
    session.commit()
    return SchoolPublic(id=new_id, **school.model_dump())


def update_school(session: Session, *, school_id: int, change: SchoolUpdate) -> SchoolPublic:
    """Change the fields given in ``change``; UnknownSchool if there is no such school."""
    get_school(session, school_id=school_id)  # UnknownSchool if there is none
    given = change.model_dump(exclude_unset=True)
    if given:
        session.execute(schools.update().where(schools.c.id == school_id).values(**given))
        session.commit()
    return get_school(session, school_id=school_id)


def get_school(session: Session, *, school_id: int) -> SchoolPublic:
    """The school with ``school_id``; UnknownSchool if there is none."""
    row = session.execute(select(schools).where(schools.c.id == school_id)).mappings().first()
    if row is None:
        raise UnknownSchool(f"school {school_id} does not exist")
    return SchoolPublic.model_validate(dict(row))


def count_schools(session: Session) -> int:
    """How many schools are stored."""
    return session.execute(select(func.count()).select_from(schools)).scalar_one()


def list_schools(session: Session, *, limit: int, offset: int = 0) -> list[SchoolPublic]:
    """Schools ordered by id."""
    statement = select(schools).order_by(schools.c.id).limit(limit).offset(offset)
    return [SchoolPublic.model_validate(dict(row)) for row in session.execute(statement).mappings()]
