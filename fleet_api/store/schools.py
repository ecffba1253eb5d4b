"""Schools: create, change, archive, read, list; every change audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.messages import utc_now
from fleet_api.errors import UnknownSchool
from fleet_api.models.schools import SchoolCreate, SchoolPublic, SchoolUpdate
from fleet_api.store.audit import Actor, changed_fields, record_change, snapshot
from fleet_api.tables import schools


def create_school(session: Session, *, school: SchoolCreate, actor: Actor) -> SchoolPublic:
    """Store ``school`` and return it with its new id."""
    new_id = session.execute(
        schools.insert().values(**school.model_dump()).returning(schools.c.id)
    ).scalar_one()
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


def get_school(session: Session, *, school_id: int) -> SchoolPublic:
    """The school with ``school_id``; UnknownSchool if there is none."""
    row = session.execute(select(schools).where(schools.c.id == school_id)).mappings().first()
    if row is None:
        raise UnknownSchool(f"school {school_id} does not exist")
    return SchoolPublic.model_validate(dict(row))


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
    return [SchoolPublic.model_validate(dict(row)) for row in session.execute(statement).mappings()]
