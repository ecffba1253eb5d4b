"""Heartbeats: the latest per exhibit (``exhibit_heartbeats``) and a pruned history.

The history keeps ``history_days`` days, pruned by the ingest transaction that adds to
it (an index on ``received_at`` makes a prune with nothing to delete one index probe).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from broker.messages import Heartbeat
from fleet_api.store.dialect import insert
from fleet_api.tables import exhibit_heartbeats, heartbeat_history

DEFAULT_HISTORY_DAYS = 14
HEALTH_FIELDS = (
    "at",
    "boot_id",
    "uptime_s",
    "clock_synced",
    "outbox_depth",
    "cpu_temp_c",
    "under_voltage",
    "throttled",
    "disk_free_bytes",
    "mem_available_bytes",
    "wifi_signal_dbm",
    "retained_from_seq",
    "retained_records",
    "refused_subscriptions",
)


def store_heartbeats(
    connection: Connection,
    heartbeats: Sequence[tuple[Heartbeat, datetime]],
    *,
    history_days: float = DEFAULT_HISTORY_DAYS,
) -> None:
    """Record ``(heartbeat, received_at)`` pairs: history, latest per exhibit, prune."""
    if not heartbeats:
        return
    rows = [_row(beat, received_at) for beat, received_at in heartbeats]
    connection.execute(heartbeat_history.insert(), rows)
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        known = latest.get(row["exhibit_id"])
        if known is None or row["received_at"] >= known["received_at"]:
            latest[row["exhibit_id"]] = row
    statement = insert(connection, exhibit_heartbeats)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["exhibit_id"],
            set_={name: statement.excluded[name] for name in (*HEALTH_FIELDS, "received_at")},
            # Two ingest workers may commit out of order: never go back in time.
            where=exhibit_heartbeats.c.received_at <= statement.excluded.received_at,
        ),
        [latest[exhibit_id] for exhibit_id in sorted(latest)],
    )
    newest = max(row["received_at"] for row in rows)
    connection.execute(
        heartbeat_history.delete().where(
            heartbeat_history.c.received_at < newest - timedelta(days=history_days)
        )
    )


def _row(beat: Heartbeat, received_at: datetime) -> dict[str, Any]:
    values = beat.model_dump(include=set(HEALTH_FIELDS))
    return {"exhibit_id": beat.exhibit_id, "received_at": received_at, **values}


def heartbeat_history_of(
    connection: Connection, *, exhibit_id: str, since: datetime, limit: int
) -> list[dict[str, Any]]:
    """The exhibit's heartbeats received since ``since``, newest first."""
    rows = connection.execute(
        select(heartbeat_history)
        .where(
            heartbeat_history.c.exhibit_id == exhibit_id,
            heartbeat_history.c.received_at >= since,
        )
        .order_by(heartbeat_history.c.received_at.desc(), heartbeat_history.c.id.desc())
        .limit(limit)
    ).mappings()
    return [dict(row) for row in rows]


def drained_after(connection: Connection, *, exhibit_id: str, after: datetime) -> bool:
    """Whether a heartbeat received at or after ``after`` reported an empty outbox."""
    for table in (exhibit_heartbeats, heartbeat_history):
        found = connection.execute(
            select(table.c.exhibit_id)
            .where(
                table.c.exhibit_id == exhibit_id,
                table.c.received_at >= after,
                table.c.outbox_depth == 0,
            )
            .limit(1)
        ).first()
        if found is not None:
            return True
    return False
