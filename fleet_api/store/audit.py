"""The audit trail: who changed what, when, through what, and the values before and after.

Every change made through the API or the pages calls :func:`record_change` in the
transaction of the change itself, so a change and its audit entry are committed together
or not at all. Rows are never updated or deleted (a trigger refuses it, see migration
0006); the API only reads them (``GET /audit``).

For code of other features (e.g. decisions on unplaced records)::

    from fleet_api.store.audit import Actor, record_change

    record_change(
        session.connection(),
        actor=Actor.of(caller, via="api"),
        action="record.place",
        entity="record",
        entity_id=f"{exhibit_id}:{seq}",
        before={"visit_id": None},
        after={"visit_id": 12},
        reason="staff placed it by hand",
    )
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, func, select

from broker.messages import utc_now
from fleet_api.auth import Caller
from fleet_api.models.audit import AuditEntry, AuditQuery
from fleet_api.tables_domain import audit_log

Via = Literal["api", "page", "cli", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: a token's holder (through the API or a page), or a program."""

    name: str
    via: Via
    token_id: int | None = None
    role: str | None = None

    @classmethod
    def of(cls, caller: Caller, *, via: Via) -> Actor:
        """The holder of the request's token."""
        return cls(name=caller.name, via=via, token_id=caller.token_id, role=caller.role.value)


def snapshot(model: BaseModel | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-ready copy of ``model`` (times as ISO 8601) for ``before``/``after``."""
    if model is None:
        return None
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json")
    return {key: _json(value) for key, value in model.items()}


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def changed_fields(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Only the fields that differ, from both sides (the whole of a side that is None)."""
    if before is None or after is None:
        return (dict(before) if before else None), (dict(after) if after else None)
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def record_change(
    connection: Connection,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str | int,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one entry (no commit: it commits with the change it describes)."""
    connection.execute(
        audit_log.insert().values(
            at=at or utc_now(),
            actor_token_id=actor.token_id,
            actor_name=actor.name[:200],
            actor_role=actor.role,
            via=actor.via,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=None if before is None else dict(before),
            after=None if after is None else dict(after),
            reason=reason,
        )
    )


def _conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    c = audit_log.c
    found: list[ColumnElement[bool]] = []
    if query.entity is not None:
        found.append(c.entity == query.entity)
    if query.entity_id is not None:
        found.append(c.entity_id == query.entity_id)
    if query.action is not None:
        found.append(c.action == query.action)
    if query.actor_token_id is not None:
        found.append(c.actor_token_id == query.actor_token_id)
    if query.start is not None:
        found.append(c.at >= query.start)
    if query.end is not None:
        found.append(c.at < query.end)
    return found


def count_entries(connection: Connection, query: AuditQuery) -> int:
    """How many entries match ``query`` (ignoring paging)."""
    statement = select(func.count()).select_from(audit_log).where(*_conditions(query))
    return connection.execute(statement).scalar_one()


def list_entries(
    connection: Connection, query: AuditQuery, *, limit: int, offset: int = 0
) -> list[AuditEntry]:
    """Matching entries, newest first."""
    rows = connection.execute(
        select(audit_log)
        .where(*_conditions(query))
        .order_by(audit_log.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [AuditEntry.model_validate(dict(row)) for row in rows]


def entries_about(
    connection: Connection, *, entity: str, entity_id: str | int, limit: int = 100
) -> list[AuditEntry]:
    """The latest entries about one visit, exhibit, school, ..., newest first."""
    query = AuditQuery(entity=entity, entity_id=str(entity_id))
    return list_entries(connection, query, limit=limit)
