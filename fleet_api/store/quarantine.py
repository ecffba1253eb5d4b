"""The quarantine: messages ingestion set aside, newest first, filtered by reason and time."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import ColumnElement, RowMapping, func, select
from sqlalchemy.orm import Session

from fleet_api.errors import NotFound
from fleet_api.models.quarantine import QuarantinedPublic
from fleet_api.tables import quarantine

PREVIEW_BYTES = 2048
"""How much of each payload a list shows."""


def list_quarantined(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    reason: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[QuarantinedPublic]:
    """Quarantined messages received in [start, end) for ``reason``, newest first."""
    statement = (
        select(
            *_summary_columns(),
            func.substr(quarantine.c.payload, 1, PREVIEW_BYTES).label("payload"),
        )
        .where(*_matching(reason, start, end))
        .order_by(quarantine.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_public(row) for row in session.execute(statement).mappings()]


def count_quarantined(
    session: Session,
    *,
    reason: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """How many quarantined messages match (see :func:`list_quarantined`)."""
    statement = select(func.count()).select_from(quarantine).where(*_matching(reason, start, end))
    return session.execute(statement).scalar_one()


def get_quarantined(session: Session, *, item_id: int) -> QuarantinedPublic:
    """One quarantined message with all of its kept payload; NotFound if there is none."""
    statement = select(*_summary_columns(), quarantine.c.payload).where(quarantine.c.id == item_id)
    row = session.execute(statement).mappings().first()
    if row is None:
        raise NotFound(f"quarantined message {item_id} does not exist")
    return _public(row)


def _summary_columns() -> list[ColumnElement[object]]:
    return [
        quarantine.c.id,
        quarantine.c.received_at,
        quarantine.c.topic,
        quarantine.c.reason,
        quarantine.c.detail,
        quarantine.c.exhibit_id,
        quarantine.c.stored,
        func.length(quarantine.c.payload).label("payload_bytes"),
    ]


def _matching(
    reason: str | None, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = []
    if reason is not None:
        conditions.append(quarantine.c.reason == reason)
    if start is not None:
        conditions.append(quarantine.c.received_at >= start)
    if end is not None:
        conditions.append(quarantine.c.received_at < end)
    return conditions


def _public(row: RowMapping) -> QuarantinedPublic:
    # SQLite's substr() of an empty blob is NULL (a zero-length retained message).
    payload = bytes(row["payload"] or b"")
    truncated = len(payload) < row["payload_bytes"]
    text = _utf8(payload, truncated=truncated)
    return QuarantinedPublic(
        id=row["id"],
        received_at=row["received_at"],
        topic=row["topic"],
        reason=row["reason"],
        detail=row["detail"],
        payload=text if text is not None else base64.b64encode(payload).decode(),
        payload_encoding="utf-8" if text is not None else "base64",
        payload_bytes=row["payload_bytes"] or 0,
        payload_truncated=truncated,
        exhibit_id=row["exhibit_id"],
        stored=None if row["stored"] is None else json.loads(row["stored"]),
    )


def _utf8(payload: bytes, *, truncated: bool) -> str | None:
    """``payload`` as text if it is UTF-8; a cut may split a character's last bytes."""
    try:
        return payload.decode()
    except UnicodeDecodeError as exc:
        if truncated and exc.reason == "unexpected end of data":
            return payload[: exc.start].decode()
        return None
