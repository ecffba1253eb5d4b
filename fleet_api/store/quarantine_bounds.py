"""Writing the quarantine within bounds, so no client can make it grow without end.

Three bounds, all settings (:class:`QuarantineBounds`):

- **a rate per exhibit**: at most ``per_exhibit_per_hour`` rows kept per hour window
  for the exhibit whose topic a message came on (messages on topics that are not ours
  share one allowance; ``quarantine_rates`` counts what was kept, so rows evicted later
  give no allowance back). Past it, messages are acknowledged and *dropped*, and counted;
- **a total size**: when the kept bytes pass ``max_bytes``, the oldest rows of the
  exhibit holding the most bytes go first (a flood pays for itself before it costs
  anyone else's evidence), counted as dropped for size;
- **a retention**: rows older than ``retention`` are deleted whenever the quarantine
  is written, counted as expired.

The running totals live in ``quarantine_totals`` (one row, locked in the writing
transaction), so checking a bound never scans the table.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, update

from broker.limits import MAX_PAYLOAD_BYTES
from broker.topics import ROOT, validate_exhibit_id
from fleet_api.inbound import Inbound
from fleet_api.store.dialect import insert
from fleet_api.tables_ingest import quarantine, quarantine_rates, quarantine_totals

log = logging.getLogger(__name__)

DETAIL_MAX = 2000
_EVICT_CHUNK = 200
q = quarantine.c
t = quarantine_totals.c


@dataclass(frozen=True, slots=True)
class QuarantineBounds:
    """``FLEET_QUARANTINE_*``."""

    per_exhibit_per_hour: int = 120
    max_bytes: int = 100 * 1024 * 1024
    retention: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ToQuarantine:
    """A message to set aside, why, and (for a conflict) what was stored instead."""

    inbound: Inbound
    reason: str
    detail: str
    stored: str | None = None


@dataclass
class Kept:
    """What one write did to the quarantine."""

    kept: Counter[str] = field(default_factory=Counter)
    dropped_rate: int = 0
    dropped_size: int = 0
    expired: int = 0


def exhibit_of_topic(topic: str) -> str | None:
    """The exhibit id a topic names, if it is one of ours (even with an unknown channel)."""
    parts = topic.split("/")
    if not topic.startswith(ROOT + "/") or len(parts) != 5:
        return None
    try:
        return validate_exhibit_id(parts[3])
    except ValueError:
        return None


def keep(
    connection: Connection,
    items: Sequence[ToQuarantine],
    *,
    bounds: QuarantineBounds,
    now: datetime,
) -> Kept:
    """Insert what the rate allows, then hold the size and the retention; no commit."""
    result = Kept()
    if not items:
        return result
    totals = _lock_totals(connection)
    rows = []
    added = 0
    allowance: dict[str | None, int] = {}
    for item in items:
        exhibit_id = exhibit_of_topic(item.inbound.topic)
        if exhibit_id not in allowance:
            allowance[exhibit_id] = bounds.per_exhibit_per_hour - _kept_this_hour(
                connection, exhibit_id or "", now
            )
        if allowance[exhibit_id] <= 0:
            result.dropped_rate += 1
            continue
        allowance[exhibit_id] -= 1
        payload = item.inbound.payload[:MAX_PAYLOAD_BYTES]
        detail = item.detail[:DETAIL_MAX]
        size = len(payload) + len(detail) + len(item.inbound.topic) + len(item.stored or "")
        added += size
        rows.append(
            {
                "received_at": item.inbound.received_at,
                "topic": item.inbound.topic,
                # Oversized payloads are kept in part: enough to see what sent them.
                "payload": payload,
                "reason": str(item.reason),
                "detail": detail,
                "exhibit_id": exhibit_id,
                "size": size,
                "stored": item.stored,
            }
        )
        result.kept[str(item.reason)] += 1
    if result.dropped_rate:
        log.warning(
            "quarantine rate limit (%d an hour per exhibit): dropped %d message(s) from %s",
            bounds.per_exhibit_per_hour,
            result.dropped_rate,
            sorted(str(k) for k, left in allowance.items() if left <= 0),
        )
    if rows:
        connection.execute(quarantine.insert(), rows)
        for exhibit_id, left in allowance.items():
            used = bounds.per_exhibit_per_hour - left
            connection.execute(
                update(quarantine_rates)
                .where(quarantine_rates.c.sender == (exhibit_id or ""))
                .values(kept=max(used, 0))
            )
    count, size = len(rows), added
    expired_rows, expired_bytes = _expire(connection, now - bounds.retention)
    result.expired = expired_rows
    count, size = count - expired_rows, size - expired_bytes
    total = totals + size
    if total > bounds.max_bytes:
        evicted_rows, evicted_bytes = _evict(connection, total - bounds.max_bytes)
        result.dropped_size = evicted_rows
        count, size = count - evicted_rows, size - evicted_bytes
        log.warning(
            "quarantine over %d bytes: dropped its %d oldest row(s) of the biggest sender",
            bounds.max_bytes,
            evicted_rows,
        )
    connection.execute(
        update(quarantine_totals)
        .where(t.id == 1)
        .values(
            rows=t.rows + count,
            bytes=t.bytes + size,
            dropped_rate=t.dropped_rate + result.dropped_rate,
            dropped_size=t.dropped_size + result.dropped_size,
            expired=t.expired + result.expired,
        )
    )
    return result


def _lock_totals(connection: Connection) -> int:
    """The kept bytes, with the totals row locked (created if a test schema lacks it)."""
    connection.execute(
        insert(connection, quarantine_totals)
        .values(id=1, rows=0, bytes=0, dropped_rate=0, dropped_size=0, expired=0)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    statement = select(t.bytes).where(t.id == 1).with_for_update()
    return int(connection.execute(statement).scalar_one())


def _kept_this_hour(connection: Connection, sender: str, now: datetime) -> int:
    """What ``sender`` had kept in its current hour window (a new window starts at 0)."""
    r = quarantine_rates.c
    connection.execute(
        insert(connection, quarantine_rates)
        .values(sender=sender, window_start=now, kept=0)
        .on_conflict_do_nothing(index_elements=["sender"])
    )
    row = connection.execute(
        select(r.window_start, r.kept).where(r.sender == sender).with_for_update()
    ).one()
    if now - row.window_start >= timedelta(hours=1) or row.window_start > now:
        connection.execute(
            update(quarantine_rates).where(r.sender == sender).values(window_start=now, kept=0)
        )
        return 0
    return int(row.kept)


def _expire(connection: Connection, before: datetime) -> tuple[int, int]:
    old = q.received_at < before
    count, size = connection.execute(
        select(func.count(), func.coalesce(func.sum(q.size), 0)).where(old)
    ).one()
    if count:
        connection.execute(delete(quarantine).where(old))
    return int(count), int(size)


def _evict(connection: Connection, excess: int) -> tuple[int, int]:
    """Delete the oldest rows of the biggest sender until ``excess`` bytes are gone."""
    rows = freed = 0
    while freed < excess:
        biggest = connection.execute(
            select(q.exhibit_id).group_by(q.exhibit_id).order_by(func.sum(q.size).desc()).limit(1)
        ).first()
        if biggest is None:
            break
        mine = (
            q.exhibit_id.is_(None)
            if biggest.exhibit_id is None
            else q.exhibit_id == (biggest.exhibit_id)
        )
        oldest = connection.execute(
            select(q.id, q.size).where(mine).order_by(q.id).limit(_EVICT_CHUNK)
        ).all()
        chosen = []
        for row in oldest:
            chosen.append(row.id)
            freed += int(row.size)
            if freed >= excess:
                break
        connection.execute(delete(quarantine).where(q.id.in_(chosen)))
        rows += len(chosen)
    return rows, freed


@dataclass(frozen=True, slots=True)
class QuarantineTotals:
    """What the quarantine holds and what it dropped, since the migration that bounded it."""

    rows: int = 0
    bytes: int = 0
    dropped_rate: int = 0
    dropped_size: int = 0
    expired: int = 0


def totals(connection: Connection) -> QuarantineTotals:
    """The running totals (zeros before anything was quarantined)."""
    row = connection.execute(select(quarantine_totals).where(t.id == 1)).first()
    if row is None:
        return QuarantineTotals()
    return QuarantineTotals(row.rows, row.bytes, row.dropped_rate, row.dropped_size, row.expired)
