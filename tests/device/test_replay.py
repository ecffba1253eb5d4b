"""Backlog replay: a school week offline drains in batches through a bounded window."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.core.clock import FakeClock
from device.core.events import Interaction
from device.outbox.store import Outbox
from device.runtime.agent import Agent
from tests.device.conftest import SettingsMaker
from tests.device.subscriber import Subscriber

DAYS, HOURS, INPUTS = 5, 7, ("button", "motion", "dial_cw")


def a_week_offline(path: Path) -> int:
    """One bucket per input per minute through five 7-hour school days, one boot a day."""
    outbox = Outbox(path, bucket_seconds=60, exhibit_id="exhibit-001")
    for day in range(DAYS):
        start = datetime(2026, 3, 2 + day, 8, 30, tzinfo=UTC)
        presses = [
            Interaction(name, start + timedelta(minutes=minute), 30.0 + 60 * minute)
            for minute in range(HOURS * 60)
            for name in INPUTS
        ]
        outbox.add(presses, boot_id=f"boot-day-{day}", clock_synced=day > 0, visit_id=50 + day)
        outbox.seal_all()
    records = outbox.depth()
    outbox.close()
    return records


def test_a_school_week_offline_drains_through_mosquitto(
    mosquitto: MosquittoProcess, make_settings: SettingsMaker, factory: MockFactory
) -> None:
    settings = make_settings(
        broker_url=f"mqtt://127.0.0.1:{mosquitto.port}",
        batch_max_records=500,
        inflight_window=100,
        outbox_max_records=50_000,
    )
    waiting = a_week_offline(settings.outbox_path)
    assert waiting == DAYS * HOURS * 60 * len(INPUTS) == 6_300
    ingest = Subscriber(
        mosquitto.port,
        [exhibit_topic("exhibit-001", Channel.COUNTS)],
        client_id="ingest",
        confirm=True,
    )
    try:
        with Agent(settings, pin_factory=factory, clock=FakeClock(boot_id="boot-day-5")) as agent:
            started = time.perf_counter()
            assert agent.flush(60)
            drained = time.perf_counter() - started
            assert agent.outbox_depth() == 0
        assert ingest.wait_for(lambda: len({r.seq for r in ingest.records()}) == waiting)
        batches = ingest.batches()
    finally:
        ingest.close()
    print(f"\n{waiting} records drained in {drained:.2f}s in {len(batches)} messages")
    assert max(len(batch.records) for batch in batches) == 500
    assert len(batches) == -(-waiting // 500)  # 13 messages, nothing resent
    seqs = sorted(r.seq for batch in batches for r in batch.records)
    assert seqs == list(range(1, waiting + 1))
    per_visit = {50 + day: 0 for day in range(DAYS)}
    for batch in batches:
        for record in batch.records:
            assert record.visit_id is not None
            per_visit[record.visit_id] += 1
    assert set(per_visit.values()) == {HOURS * 60 * len(INPUTS)}
