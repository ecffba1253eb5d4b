"""The durable outbox of notifications (``notification_deliveries``), one row per event and
destination.

A row is ``pending`` until the receiver accepted it (``delivered``), it is given up after
``FLEET_NOTIFY_GIVE_UP_H`` or refused for good (``failed``), or its destination is no
longer configured (``dropped``). Whoever sends a row first claims it with a lease, so
two API processes never send it at once, and a process killed mid-send leaves a lease
that runs out: the row is sent again (at least once; receivers deduplicate on the event
id). The events of one alert go to one destination in order: a row waits while an
older row of the same alert and destination is pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from fleet_api.alert_tables import alert_events, notification_deliveries
from fleet_api.store.dialect import insert

Channel = Literal["webhook", "email"]
LEASE = timedelta(seconds=30)
"""The least a claim holds a row; a process killed while sending frees it after that."""
_rows = notification_deliveries.c


@dataclass(frozen=True, slots=True)
class Target:
    """One destination: a webhook by name, or an e-mail address."""

    channel: Channel
    destination: str


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery to attempt now."""

    id: int
    event_id: str
    alert_id: str
    channel: Channel
    destination: str
    attempts: int
    created_at: datetime
    body: str


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """What the outbox holds, for ``/metrics`` and the pages."""

    pending: int
    failed: int
    delivered: int
    oldest_pending_at: datetime | None


def enqueue(
    connection: Connection,
    *,
    event_id: str,
    alert_id: str,
    targets: Sequence[Target],
    now: datetime,
) -> None:
    """Queue ``event_id`` for each target (once: a repeat changes nothing)."""
    if not targets:
        return
    statement = insert(connection, notification_deliveries).on_conflict_do_nothing(
        index_elements=["event_id", "channel", "destination"]
    )
    connection.execute(
        statement,
        [
            {
                "event_id": event_id,
                "alert_id": alert_id,
                "channel": target.channel,
                "destination": target.destination,
                "state": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
            for target in targets
        ],
    )


def due(engine: Engine, *, now: datetime, limit: int = 50) -> list[Due]:
    """Pending rows whose time has come and whose lease is free, each the oldest pending
    row of its alert and destination, oldest first."""
    with engine.connect() as connection:
        heads = (
            select(func.min(_rows.id))
            .where(_rows.state == "pending")
            .group_by(_rows.alert_id, _rows.channel, _rows.destination)
        )
        rows = connection.execute(
            select(
                _rows.id,
                _rows.event_id,
                _rows.alert_id,
                _rows.channel,
                _rows.destination,
                _rows.attempts,
                _rows.created_at,
                alert_events.c.body,
            )
            .join(alert_events, alert_events.c.event_id == _rows.event_id)
            .where(
                _rows.id.in_(heads),
                _rows.next_attempt_at <= now,
                or_(_rows.lease_until.is_(None), _rows.lease_until < now),
            )
            .order_by(_rows.id)
            .limit(limit)
        )
        return [Due(**row._asdict()) for row in rows]


def next_attempt(engine: Engine) -> datetime | None:
    """When the earliest pending delivery is due (None: nothing is pending)."""
    with engine.connect() as connection:
        found: datetime | None = connection.execute(
            select(func.min(_rows.next_attempt_at)).where(_rows.state == "pending")
        ).scalar()
        return found


def claim(engine: Engine, delivery_id: int, *, now: datetime, lease: timedelta = LEASE) -> bool:
    """Take the row for one attempt; False if another process holds it or it is done."""
    with engine.begin() as connection:
        done = connection.execute(
            update(notification_deliveries)
            .where(
                _rows.id == delivery_id,
                _rows.state == "pending",
                or_(_rows.lease_until.is_(None), _rows.lease_until < now),
            )
            .values(lease_until=now + lease, attempts=_rows.attempts + 1)
        )
        return bool(done.rowcount)


def release(engine: Engine, delivery_id: int) -> None:
    """Give the row back untried (this process is stopping in the middle of it)."""
    with engine.begin() as connection:
        connection.execute(
            update(notification_deliveries)
            .where(_rows.id == delivery_id, _rows.state == "pending")
            .values(lease_until=None)
        )


def delivered(engine: Engine, delivery_id: int, *, now: datetime) -> None:
    """The receiver accepted it."""
    _finish(engine, delivery_id, state="delivered", now=now, error=None)


def give_up(
    engine: Engine,
    delivery_id: int,
    *,
    now: datetime,
    error: str,
    state: Literal["failed", "dropped"] = "failed",
) -> None:
    """No more attempts: refused for good, too old, or its destination is gone."""
    _finish(engine, delivery_id, state=state, now=now, error=error)


def retry_at(engine: Engine, delivery_id: int, *, when: datetime, error: str) -> None:
    """Try again at ``when``."""
    with engine.begin() as connection:
        connection.execute(
            update(notification_deliveries)
            .where(_rows.id == delivery_id)
            .values(next_attempt_at=when, lease_until=None, last_error=error[:2000])
        )


def counts(connection: Connection, *, since: datetime) -> OutboxCounts:
    """Pending rows, rows failed since ``since``, delivered since ``since``."""
    row = connection.execute(
        select(
            func.count().filter(_rows.state == "pending"),
            func.count().filter(and_(_rows.state == "failed", _rows.created_at >= since)),
            func.count().filter(and_(_rows.state == "delivered", _rows.created_at >= since)),
            func.min(_rows.created_at).filter(_rows.state == "pending"),
        )
    ).one()
    return OutboxCounts(pending=row[0], failed=row[1], delivered=row[2], oldest_pending_at=row[3])


def _finish(
    engine: Engine, delivery_id: int, *, state: str, now: datetime, error: str | None
) -> None:
    values: dict[str, object] = {"state": state, "lease_until": None}
    if state == "delivered":
        values["delivered_at"] = now
    if error is not None:
        values["last_error"] = error[:2000]
    with engine.begin() as connection:
        connection.execute(
            update(notification_deliveries).where(_rows.id == delivery_id).values(**values)
        )
