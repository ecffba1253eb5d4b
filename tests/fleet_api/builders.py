"""Build messages as agents send them, for the fleet API tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from broker.messages import CountBatch, CountRecord, Heartbeat, Status
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
"""A school day morning; visits in the tests start here."""


def record(
    seq: int,
    *,
    input: str = "button",
    count: int = 1,
    minute: float = 0,
    visit_id: int | None = None,
    boot_id: str = "boot-1",
) -> CountRecord:
    """One bucket of interactions ``minute`` minutes after T0."""
    return CountRecord(
        seq=seq,
        input=input,
        start=T0 + timedelta(minutes=minute),
        mono_start=60.0 * abs(minute),
        seconds=60.0,
        count=count,
        boot_id=boot_id,
        clock_synced=True,
        visit_id=visit_id,
    )


def counts(exhibit_id: str, *records: CountRecord) -> Inbound:
    """A CountBatch on the exhibit's counts topic."""
    batch = CountBatch(exhibit_id=exhibit_id, sent_at=T0, records=list(records))
    return Inbound(exhibit_topic(exhibit_id, Channel.COUNTS), batch.to_payload())


def status(
    exhibit_id: str,
    *,
    online: bool = True,
    at: datetime | None = T0,
    boot_id: str | None = "boot-1",
    agent_version: str | None = "1.0.0",
) -> Inbound:
    """A retained status (birth when online, last will when not)."""
    message = Status(
        exhibit_id=exhibit_id, online=online, at=at, boot_id=boot_id, agent_version=agent_version
    )
    return Inbound(exhibit_topic(exhibit_id, Channel.STATUS), message.to_payload())


def heartbeat(exhibit_id: str, *, boot_id: str = "boot-1") -> Inbound:
    """A heartbeat with nothing but the required fields."""
    message = Heartbeat(
        exhibit_id=exhibit_id, at=T0, boot_id=boot_id, uptime_s=5, clock_synced=True, outbox_depth=0
    )
    return Inbound(exhibit_topic(exhibit_id, Channel.HEARTBEAT), message.to_payload())


def raw(topic: str, payload: bytes | dict[str, Any]) -> Inbound:
    """Any payload on any topic (dicts are JSON-encoded)."""
    body = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    return Inbound(topic, body)


def iso(value: datetime) -> str:
    """How the API writes a UTC datetime."""
    return value.isoformat().replace("+00:00", "Z")
