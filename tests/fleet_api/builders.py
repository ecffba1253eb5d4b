"""Build messages as agents send them, for the fleet API tests."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from broker.messages import (
    CountBatch,
    CountRecord,
    Heartbeat,
    SelfTestResult,
    SessionRecord,
    Status,
)
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


def unsynced(
    seq: int,
    *,
    wall: datetime,
    mono: float,
    input: str = "button",
    count: int = 1,
    boot_id: str = "boot-1",
    visit_id: int | None = None,
) -> CountRecord:
    """A bucket counted with an unsynced clock: the Pi believed ``wall`` at monotonic ``mono``."""
    return CountRecord(
        seq=seq,
        input=input,
        start=wall,
        mono_start=mono,
        seconds=60.0,
        count=count,
        boot_id=boot_id,
        clock_synced=False,
        visit_id=visit_id,
    )


def session(
    seq: int,
    *,
    minute: float = 0,
    dwell_s: float = 30.0,
    interactions: int = 5,
    visit_id: int | None = None,
    boot_id: str = "boot-1",
    synced: bool = True,
    wall: datetime | None = None,
    mono: float | None = None,
) -> SessionRecord:
    """An engagement session starting ``minute`` minutes after T0 (or at ``wall``/``mono``)."""
    return SessionRecord(
        seq=seq,
        start=wall or T0 + timedelta(minutes=minute),
        mono_start=60.0 * abs(minute) if mono is None else mono,
        dwell_s=dwell_s,
        interactions=interactions,
        boot_id=boot_id,
        clock_synced=synced,
        visit_id=visit_id,
    )


def beat(
    exhibit_id: str,
    *,
    at: datetime = T0,
    uptime_s: float = 5,
    synced: bool = True,
    boot_id: str = "boot-1",
    outbox_depth: int = 0,
    received_at: datetime | None = None,
    **health: Any,
) -> Inbound:
    """A heartbeat with any health fields, received at ``received_at`` (default: now)."""
    message = Heartbeat(
        exhibit_id=exhibit_id,
        at=at,
        boot_id=boot_id,
        uptime_s=uptime_s,
        clock_synced=synced,
        outbox_depth=outbox_depth,
        **health,
    )
    inbound = Inbound(exhibit_topic(exhibit_id, Channel.HEARTBEAT), message.to_payload())
    return inbound if received_at is None else replace(inbound, received_at=received_at)


def self_test(exhibit_id: str, command_id: str, seen: dict[str, bool]) -> Inbound:
    """A self-test result on the exhibit's selftest topic."""
    message = SelfTestResult(
        exhibit_id=exhibit_id,
        command_id=command_id,
        at=T0,
        seen=seen,
        passed=all(seen.values()),
    )
    return Inbound(exhibit_topic(exhibit_id, Channel.SELFTEST), message.to_payload())


def mixed(exhibit_id: str, *records: CountRecord | SessionRecord) -> Inbound:
    """A CountBatch of count and session records."""
    batch = CountBatch(exhibit_id=exhibit_id, sent_at=T0, records=list(records))
    return Inbound(exhibit_topic(exhibit_id, Channel.COUNTS), batch.to_payload())
