"""Outboxes filled with a school week offline, and the exact messages they will send.

One bucket per input per minute through a 7-hour school day, 5 days, 3 inputs:
6,300 records per exhibit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broker.messages import CountBatch
from device.core.events import Interaction
from device.outbox.store import Outbox

INPUTS = ("button", "motion", "dial")
DAYS, HOURS_PER_DAY = 5, 7
BUCKET_S = 60.0
MONDAY = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def records_per_exhibit() -> int:
    """Records one exhibit holds after the week."""
    return DAYS * HOURS_PER_DAY * 60 * len(INPUTS)


def fill(path: Path, *, exhibit_id: str) -> int:
    """Write the week into an outbox at ``path`` (sealed, ready to send); return records."""
    outbox = Outbox(path, bucket_seconds=BUCKET_S)
    try:
        for day in range(DAYS):
            boot = f"{exhibit_id}-day{day}"
            start = MONDAY + timedelta(days=day)
            interactions = [
                Interaction(name, start + timedelta(minutes=minute), minute * BUCKET_S + 1.0)
                for minute in range(HOURS_PER_DAY * 60)
                for name in INPUTS
            ]
            outbox.add(interactions, boot_id=boot, clock_synced=True)
            outbox.seal_all()
        return outbox.depth()
    finally:
        outbox.close()


def batches(path: Path, *, exhibit_id: str, batch_records: int) -> list[bytes]:
    """The CountBatch payloads an agent would publish from this outbox."""
    outbox = Outbox(path, bucket_seconds=BUCKET_S, readonly=True)
    try:
        records = outbox.pending(10**9)
    finally:
        outbox.close()
    sent_at = datetime.now(UTC)
    return [
        CountBatch(
            exhibit_id=exhibit_id, sent_at=sent_at, records=records[i : i + batch_records]
        ).to_payload()
        for i in range(0, len(records), batch_records)
    ]


def payload_events(payload: bytes) -> int:
    """How many records a batch payload carries."""
    return len(json.loads(payload)["records"])
