"""The ingestion task with a fake source: batches, commit before ack, retries, clean stop."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from fleet_api import ingest
from fleet_api.inbound import Inbound
from fleet_api.ingest import Ingestor
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.ingest import BatchOutcome, write_batch
from tests.fleet_api.builders import counts, raw, record, status
from tests.fleet_api.fakes import FakeSource, eventually
from tests.fleet_api.helpers import quarantined, register, stored_records
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "RETRY_MIN_S", 0.001)
    monkeypatch.setattr(ingest, "RETRY_MAX_S", 0.01)


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, "exhibit-001", "exhibit-002")
    return engine


def messages(n: int) -> list[Inbound]:
    return [counts("exhibit-001", record(seq)) for seq in range(1, n + 1)]


async def test_messages_are_acked_only_after_their_batch_is_committed(fleet: Engine) -> None:
    def committed(message: Inbound) -> None:
        # Called at ack time: the record must already be readable from another connection.
        seq = int(message.payload.split(b'"seq":')[1].split(b",")[0])
        assert ("exhibit-001", seq, 1) in stored_records(fleet)

    source = FakeSource(on_ack=committed)
    ingestor = Ingestor(engine=fleet, source=source)
    ingestor.start()
    source.push(*messages(25))
    await eventually(lambda: len(source.acked) == 25)
    await ingestor.stop()
    assert len(stored_records(fleet)) == 25
    assert (ingestor.stats.messages, ingestor.stats.records_inserted, ingestor.stats.acked) == (
        25,
        25,
        25,
    )
    assert source.stopped


async def test_waiting_messages_are_written_in_batches_of_at_most_batch_max(fleet: Engine) -> None:
    sizes: list[int] = []

    def writer(engine: Engine, batch: Sequence[Inbound]) -> BatchOutcome:
        sizes.append(len(batch))
        return write_batch(engine, batch)

    source = FakeSource()
    ingestor = Ingestor(engine=fleet, source=source, batch_max=4, batch_wait_s=0.05, writer=writer)
    ingestor.start()
    source.push(*messages(10))
    await eventually(lambda: len(source.acked) == 10)
    await ingestor.stop()
    assert sizes == [4, 4, 2]
    assert ingestor.stats.batches == 3


async def test_an_unavailable_database_is_retried_and_nothing_is_acked_meanwhile(
    fleet: Engine,
) -> None:
    failures = 3

    def flaky(engine: Engine, batch: Sequence[Inbound]) -> BatchOutcome:
        nonlocal failures
        if failures:
            failures -= 1
            assert source.acked == []
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return write_batch(engine, batch)

    source = FakeSource()
    ingestor = Ingestor(engine=fleet, source=source, writer=flaky)
    ingestor.start()
    source.push(*messages(3))
    await eventually(lambda: len(source.acked) == 3)
    await ingestor.stop()
    assert ingestor.stats.storage_errors == 3
    assert len(stored_records(fleet)) == 3


async def test_a_message_the_database_refuses_is_quarantined_alone(fleet: Engine) -> None:
    poison = counts("exhibit-002", record(99))

    def picky(engine: Engine, batch: Sequence[Inbound]) -> BatchOutcome:
        if poison in batch:
            raise IntegrityError("INSERT", {}, Exception("value refused"))
        return write_batch(engine, batch)

    source = FakeSource()
    ingestor = Ingestor(engine=fleet, source=source, batch_wait_s=0.05, writer=picky)
    ingestor.start()
    source.push(*messages(2), poison, *messages(3)[2:])
    await eventually(lambda: len(source.acked) == 4)
    await ingestor.stop()
    assert [r[:2] for r in stored_records(fleet)] == [
        ("exhibit-001", 1),
        ("exhibit-001", 2),
        ("exhibit-001", 3),
    ]
    [(reason, topic, payload, detail)] = quarantined(fleet)
    assert (reason, topic, payload) == ("storage_rejected", poison.topic, poison.payload)
    assert "value refused" in detail
    assert ingestor.stats.quarantined == {"storage_rejected": 1}


async def test_bad_input_never_stops_ingestion(fleet: Engine) -> None:
    source = FakeSource()
    ingestor = Ingestor(engine=fleet, source=source)
    ingestor.start()
    source.push(raw("fleet/v1/exhibits/exhibit-001/counts", b"\xff\xfe"), status("exhibit-404"))
    source.push(*messages(2))
    await eventually(lambda: len(source.acked) == 4)
    await ingestor.stop()
    assert ingestor.stats.quarantined == {"malformed": 1, "unknown_exhibit": 1}
    assert len(stored_records(fleet)) == 2


async def test_stop_gives_up_on_a_dead_database_without_acking(fleet: Engine) -> None:
    def dead(engine: Engine, batch: Sequence[Inbound]) -> BatchOutcome:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    source = FakeSource()
    ingestor = Ingestor(engine=fleet, source=source, writer=dead, stop_timeout_s=0.2)
    ingestor.start()
    source.push(*messages(2))
    await eventually(lambda: ingestor.stats.storage_errors > 2)
    await ingestor.stop()
    # Unacked, so the broker redelivers them to the next session.
    assert (source.acked, source.stopped) == ([], True)


async def test_the_lifespan_runs_ingestion_and_the_api_reports_it(db_url: str) -> None:
    source = FakeSource()
    settings = Settings(
        database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", bootstrap_admin_token=ADMIN_TOKEN
    )
    app = create_app(settings, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        register(app.state.engine, "exhibit-001")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fleet.test") as client:
            source.push(*messages(3), raw("elsewhere", b"{}"), messages(1)[0])
            await eventually(lambda: len(source.acked) == 5)
            health = (await client.get("/healthz")).json()
            stats = (await client.get("/ingest/stats", headers=ADMIN_HEADERS)).json()
    assert health["ingestion"] == "connected"
    assert {
        k: stats[k]
        for k in (
            "enabled",
            "connected",
            "messages",
            "records_received",
            "records_inserted",
            "records_duplicate",
            "acked",
        )
    } == {
        "enabled": True,
        "connected": True,
        "messages": 5,
        "records_received": 4,
        "records_inserted": 3,
        "records_duplicate": 1,
        "acked": 5,
    }
    assert stats["quarantined"]["unknown_topic"] == 1
    assert stats["quarantined"]["malformed"] == 0
    assert source.stopped
