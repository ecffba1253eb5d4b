"""Resend requests: what the fleet lacks of an exhibit, and what it asked it to send again.

The seq from which the fleet lacks records (:func:`lacking_from`) is the first seq, at or
above the oldest one the exhibit still holds (its last heartbeat's ``retained_from_seq``),
that is not stored: an older gap is beyond recovery, asking for it would only make the
exhibit resend its whole window. ``retained_from_seq`` only grows on the Pi, so a stale
heartbeat (one in a backup) can only make the fleet ask for more, never for less.

One retained ``Resend`` per exhibit lives at the broker: a newer one replaces the older.
So a new request starts no later than any earlier one the exhibit may not have acted on
yet (:func:`pending_floor`): unsent, or sent with no heartbeat since that reported an
empty outbox (:func:`fleet_api.store.heartbeats.drained_after`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from fleet_api.completeness import SeqRange
from fleet_api.store.heartbeats import drained_after
from fleet_api.store.seq_ranges import load_ranges
from fleet_api.tables import exhibit_heartbeats, exhibits
from fleet_api.tables_custody import resend_requests

requests_c = resend_requests.c


@dataclass(frozen=True, slots=True)
class ResendRow:
    """One request as stored."""

    command_id: str
    exhibit_id: str
    from_seq: int
    reason: str
    requested_at: datetime
    sent_at: datetime | None


def first_missing(ranges: Sequence[SeqRange], *, floor: int = 1) -> int:
    """The first seq at or above ``floor`` that ``ranges`` (sorted, disjoint) lack."""
    start = max(1, floor)
    for item in ranges:
        if item.first <= start <= item.last:
            start = item.last + 1
        elif item.first > start:
            break
    return start


def lacking_from(connection: Connection, exhibit_ids: Sequence[str]) -> dict[str, int]:
    """For each exhibit, the seq from which the fleet lacks records it may still hold."""
    floors = dict(
        connection.execute(
            select(exhibit_heartbeats.c.exhibit_id, exhibit_heartbeats.c.retained_from_seq).where(
                exhibit_heartbeats.c.exhibit_id.in_(sorted(set(exhibit_ids)))
            )
        ).all()
    )
    ranges = load_ranges(connection, exhibit_ids)
    return {
        exhibit_id: first_missing(ranges[exhibit_id], floor=floors.get(exhibit_id) or 1)
        for exhibit_id in ranges
    }


def registered_exhibits(connection: Connection) -> list[str]:
    """Every registered exhibit's id, sorted."""
    return list(connection.execute(select(exhibits.c.id).order_by(exhibits.c.id)).scalars())


def pending_floor(connection: Connection, *, exhibit_id: str) -> int | None:
    """The lowest ``from_seq`` of the exhibit's requests it may not have acted on yet."""
    lowest: int | None = None
    for row in connection.execute(
        select(requests_c.from_seq, requests_c.sent_at).where(requests_c.exhibit_id == exhibit_id)
    ):
        if row.sent_at is not None and drained_after(
            connection, exhibit_id=exhibit_id, after=row.sent_at
        ):
            continue
        lowest = row.from_seq if lowest is None else min(lowest, row.from_seq)
    return lowest


def record_request(connection: Connection, row: ResendRow) -> None:
    """Store a request (``sent_at`` set if the broker already acknowledged it)."""
    connection.execute(
        resend_requests.insert().values(
            command_id=row.command_id,
            exhibit_id=row.exhibit_id,
            from_seq=row.from_seq,
            reason=row.reason,
            requested_at=row.requested_at,
            sent_at=row.sent_at,
        )
    )


def unsent(connection: Connection) -> list[ResendRow]:
    """Requests not yet acknowledged by the broker, oldest first."""
    rows = connection.execute(
        select(resend_requests)
        .where(requests_c.sent_at.is_(None))
        .order_by(requests_c.requested_at, requests_c.command_id)
    )
    return [ResendRow(**row._mapping) for row in rows]


def mark_sent(connection: Connection, command_ids: Sequence[str], *, at: datetime) -> None:
    """The broker acknowledged these requests (or a newer one that covers them) at ``at``."""
    if command_ids:
        connection.execute(
            resend_requests.update()
            .where(requests_c.command_id.in_(list(command_ids)), requests_c.sent_at.is_(None))
            .values(sent_at=at)
        )


def recent_requests(connection: Connection, *, exhibit_id: str, limit: int = 20) -> list[ResendRow]:
    """The exhibit's latest requests, newest first."""
    rows = connection.execute(
        select(resend_requests)
        .where(requests_c.exhibit_id == exhibit_id)
        .order_by(requests_c.requested_at.desc(), requests_c.command_id.desc())
        .limit(limit)
    )
    return [ResendRow(**row._mapping) for row in rows]
