"""Programmes: create, change, archive, read, list; every change audited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broker.messages import utc_now
from fleet_api.errors import InvalidRequest, ProgrammeExists, UnknownProgramme
from fleet_api.models.programmes import (
    ProgrammeCreate,
    ProgrammePublic,
    ProgrammeUpdate,
    _check_grades,
)
from fleet_api.store.audit import Actor, changed_fields, record_change, snapshot
from fleet_api.tables_domain import programmes


def create_programme(
    session: Session, *, programme: ProgrammeCreate, actor: Actor
) -> ProgrammePublic:
    """Store ``programme``; ProgrammeExists if its name is taken."""
    try:
        new_id = session.execute(
            programmes.insert().values(**programme.model_dump()).returning(programmes.c.id)
        ).scalar_one()
    except IntegrityError:
        session.rollback()
        raise ProgrammeExists(f"a programme named {programme.name!r} exists") from None
    created = get_programme(session, programme_id=new_id)
    record_change(
        session.connection(),
        actor=actor,
        action="programme.create",
        entity="programme",
        entity_id=new_id,
        after=snapshot(created),
    )
    session.commit()
    return created


def update_programme(
    session: Session,
    *,
    programme_id: int,
    change: ProgrammeUpdate,
    actor: Actor,
    now: datetime | None = None,
) -> ProgrammePublic:
    """Change the fields given; UnknownProgramme, ProgrammeExists, InvalidRequest."""
    current = get_programme(session, programme_id=programme_id)
    given = change.model_dump(exclude_unset=True)
    archived = given.pop("archived", None)
    if archived is not None and archived != (current.archived_at is not None):
        given["archived_at"] = (now or utc_now()) if archived else None
    try:
        _check_grades(
            given.get("grade_min", current.grade_min), given.get("grade_max", current.grade_max)
        )
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if not given:
        return current
    try:
        session.execute(programmes.update().where(programmes.c.id == programme_id).values(**given))
    except IntegrityError:
        session.rollback()
        raise ProgrammeExists(f"a programme named {given.get('name')!r} exists") from None
    changed = get_programme(session, programme_id=programme_id)
    before, after = changed_fields(snapshot(current), snapshot(changed))
    if after:
        record_change(
            session.connection(),
            actor=actor,
            action="programme.update",
            entity="programme",
            entity_id=programme_id,
            before=before,
            after=after,
            at=now,
        )
    session.commit()
    return changed


def get_programme(session: Session, *, programme_id: int) -> ProgrammePublic:
    """The programme with ``programme_id``; UnknownProgramme if there is none."""
    row = (
        session.execute(select(programmes).where(programmes.c.id == programme_id))
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownProgramme(f"programme {programme_id} does not exist")
    return ProgrammePublic.model_validate(dict(row))


def count_programmes(session: Session) -> int:
    """How many programmes are stored."""
    return session.execute(select(func.count()).select_from(programmes)).scalar_one()


def list_programmes(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    archived: bool = True,
    also: Iterable[int] = (),
) -> list[ProgrammePublic]:
    """Programmes by name; without archived ones if ``archived`` is False (but ``also``)."""
    statement = select(programmes).order_by(programmes.c.name, programmes.c.id)
    if not archived:
        statement = statement.where(
            programmes.c.archived_at.is_(None) | programmes.c.id.in_(list(also))
        )
    rows = session.execute(statement.limit(limit).offset(offset)).mappings()
    return [ProgrammePublic.model_validate(dict(row)) for row in rows]
