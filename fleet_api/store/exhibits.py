"""Exhibits: register, describe, retire, read, list; every change audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broker.messages import utc_now
from fleet_api.errors import ExhibitExists, UnknownExhibit
from fleet_api.models.exhibits import (
    ExhibitCreate,
    ExhibitPublic,
    ExhibitStatusPublic,
    ExhibitUpdate,
)
from fleet_api.store.audit import Actor, changed_fields, record_change, snapshot
from fleet_api.tables import exhibit_status, exhibits

_DESCRIPTION = ("id", "name", "kind", "inputs", "notes", "expected_config_hash", "retired_at")


def create_exhibit(
    session: Session, *, exhibit: ExhibitCreate, actor: Actor, now: datetime | None = None
) -> ExhibitPublic:
    """Register ``exhibit``; ExhibitExists if its id is taken."""
    created_at = now or utc_now()
    try:
        session.execute(exhibits.insert().values(**exhibit.model_dump(), created_at=created_at))
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ExhibitExists(f"exhibit {exhibit.id!r} is already registered") from None
    created = get_exhibit(session, exhibit_id=exhibit.id)
    record_change(
        session.connection(),
        actor=actor,
        action="exhibit.create",
        entity="exhibit",
        entity_id=exhibit.id,
        after=_described(created),
        at=created_at,
    )
    session.commit()
    return created


def _described(exhibit: ExhibitPublic) -> dict[str, object] | None:
    return snapshot(exhibit.model_dump(include=set(_DESCRIPTION)))


def update_exhibit(
    session: Session,
    *,
    exhibit_id: str,
    change: ExhibitUpdate,
    actor: Actor,
    now: datetime | None = None,
) -> ExhibitPublic:
    """Change the fields given in ``change``; UnknownExhibit if it is not registered."""
    current = get_exhibit(session, exhibit_id=exhibit_id)
    given = change.model_dump(exclude_unset=True)
    retired = given.pop("retired", None)
    if retired is not None and retired != (current.retired_at is not None):
        given["retired_at"] = (now or utc_now()) if retired else None
    if not given:
        return current
    session.execute(exhibits.update().where(exhibits.c.id == exhibit_id).values(**given))
    changed = get_exhibit(session, exhibit_id=exhibit_id)
    before, after = changed_fields(_described(current), _described(changed))
    if after:
        action = "exhibit.update"
        if "retired_at" in after and len(after) == 1:
            action = "exhibit.retire" if retired else "exhibit.restore"
        record_change(
            session.connection(),
            actor=actor,
            action=action,
            entity="exhibit",
            entity_id=exhibit_id,
            before=before,
            after=after,
            at=now,
        )
    session.commit()
    return changed


def get_exhibit(session: Session, *, exhibit_id: str) -> ExhibitPublic:
    """The exhibit with its latest status; UnknownExhibit if it is not registered."""
    row = session.execute(_with_status().where(exhibits.c.id == exhibit_id)).mappings().first()
    if row is None:
        raise UnknownExhibit(f"exhibit {exhibit_id!r} is not registered")
    return _public(row)


def list_exhibits(session: Session, *, limit: int, offset: int = 0) -> list[ExhibitPublic]:
    """Exhibits ordered by id."""
    statement = _with_status().order_by(exhibits.c.id).limit(limit).offset(offset)
    return [_public(row) for row in session.execute(statement).mappings()]


def count_exhibits(session: Session) -> int:
    """How many exhibits are registered."""
    return session.execute(select(func.count()).select_from(exhibits)).scalar_one()


def _with_status() -> Select[tuple[object, ...]]:
    return select(
        exhibits,
        exhibit_status.c.exhibit_id.label("status_exhibit_id"),
        exhibit_status.c.online,
        exhibit_status.c.status_at,
        exhibit_status.c.last_seen_at,
        exhibit_status.c.boot_id,
        exhibit_status.c.agent_version,
        exhibit_status.c.config_hash,
        exhibit_status.c.reported_inputs,
    ).outerjoin(exhibit_status, exhibit_status.c.exhibit_id == exhibits.c.id)


def _public(row: RowMapping) -> ExhibitPublic:
    status = None
    if row["status_exhibit_id"] is not None:
        status = ExhibitStatusPublic(
            online=row["online"],
            status_at=row["status_at"],
            last_seen_at=row["last_seen_at"],
            boot_id=row["boot_id"],
            agent_version=row["agent_version"],
            config_hash=row["config_hash"],
            inputs=row["reported_inputs"],
        )
    return ExhibitPublic(
        id=row["id"],
        name=row["name"],
        created_at=row["created_at"],
        status=status,
        kind=row["kind"],
        inputs=row["inputs"],
        notes=row["notes"],
        expected_config_hash=row["expected_config_hash"],
        retired_at=row["retired_at"],
    )
