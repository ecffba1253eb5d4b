"""Ingestion against the real Mosquitto with the project's config: nothing lost, nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion

from broker.embedded import EmbeddedBroker
from broker.mosquitto import MosquittoProcess
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.settings import Settings
from tests.fleet_api.builders import counts, raw, record
from tests.fleet_api.fakes import eventually
from tests.fleet_api.helpers import quarantined, record_count, register, schedule
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN


class Publisher:
    """An agent-like paho client publishing QoS 1 and waiting for every PUBACK."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="test-agent", protocol=mqtt.MQTTv5
        )
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, *messages: Inbound) -> None:
        infos = [self.client.publish(m.topic, m.payload, qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(20)
            assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mosquitto: MosquittoProcess) -> Iterator[Publisher]:
    publisher = Publisher(mosquitto.port)
    yield publisher
    publisher.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/fleet.db"


@asynccontextmanager
async def running_api(
    db: str, broker: MosquittoProcess, **settings: object
) -> AsyncIterator[FastAPI]:
    """The API with ingestion from ``broker``, ready (connected and subscribed)."""
    app = create_app(
        Settings(
            database_url=db,
            mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
            bootstrap_admin_token=ADMIN_TOKEN,
            **settings,
        )
    )
    async with app.router.lifespan_context(app):
        await eventually(lambda: app.state.ingestor.connected)
        yield app


async def usage_of(app: FastAPI, visit_id: int) -> dict[str, object]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fleet.test", headers=ADMIN_HEADERS
    ) as client:
        body: dict[str, object] = (await client.get(f"/visits/{visit_id}/usage")).json()
        return body


def batches(exhibit_id: str, first_seq: int, n: int, per_batch: int = 10) -> list[Inbound]:
    """``n`` batches of ``per_batch`` records (count 1 each, all inside the visit)."""
    return [
        counts(
            exhibit_id,
            *(record(first_seq + b * per_batch + i, minute=b % 100) for i in range(per_batch)),
        )
        for b in range(n)
    ]


async def test_published_counts_are_stored_once_and_bad_ones_quarantined(
    db: str, mosquitto: MosquittoProcess, publisher: Publisher
) -> None:
    async with running_api(db, mosquitto) as app:
        engine = app.state.engine
        register(engine, "exhibit-001", "exhibit-002")
        visit = schedule(engine, "exhibit-001", "exhibit-002")
        first = batches("exhibit-001", 1, 20)
        publisher.send(*first, *batches("exhibit-002", 1, 5))
        publisher.send(first[3], first[4])  # an agent re-sending after a lost PUBACK
        publisher.send(raw("fleet/v1/exhibits/exhibit-001/counts", b'{"half": '))
        publisher.send(*batches("exhibit-001", 1001, 5))  # still working after bad input
        stats = app.state.ingest_stats
        await eventually(lambda: stats.acked == 33)
        usage = await usage_of(app, visit)
    assert usage["total"] == 300
    assert [(e["exhibit_id"], e["total"]) for e in usage["exhibits"]] == [  # type: ignore[attr-defined]
        ("exhibit-001", 250),
        ("exhibit-002", 50),
    ]
    assert (stats.records_received, stats.records_inserted) == (320, 300)
    assert [row[0] for row in quarantined(engine)] == ["malformed"]


async def test_nothing_is_lost_while_the_api_is_down(
    db: str, mosquitto: MosquittoProcess, publisher: Publisher
) -> None:
    async with running_api(db, mosquitto) as app:
        register(app.state.engine, "exhibit-001")
        publisher.send(*batches("exhibit-001", 1, 10, per_batch=1))
        await eventually(lambda: app.state.ingest_stats.acked == 10)

    # More than Mosquitto's default queue of 1000 messages per offline client.
    publisher.send(*batches("exhibit-001", 11, 1500, per_batch=1))

    async with running_api(db, mosquitto) as app:
        await eventually(lambda: app.state.ingest_stats.acked >= 1500, timeout=30)
        assert record_count(app.state.engine) == 1510


async def test_two_workers_in_a_share_group_store_everything_exactly_once(
    db: str, mosquitto: MosquittoProcess, publisher: Publisher
) -> None:
    shared = {"mqtt_share_group": "ingest"}
    async with (
        running_api(db, mosquitto, mqtt_client_id="fleet-ingest-1", **shared) as one,
        running_api(db, mosquitto, mqtt_client_id="fleet-ingest-2", **shared) as two,
    ):
        register(one.state.engine, "exhibit-001", "exhibit-002")
        publisher.send(
            *batches("exhibit-001", 1, 100, per_batch=5),
            *batches("exhibit-002", 1, 100, per_batch=5),
        )
        a, b = one.state.ingest_stats, two.state.ingest_stats
        await eventually(lambda: a.acked + b.acked == 200)
        assert record_count(one.state.engine) == 1000
    # Each message went to one worker only, and both took part.
    assert a.records_received + b.records_received == 1000
    assert a.messages > 0
    assert b.messages > 0


async def test_ingestion_reconnects_after_a_broker_restart(
    db: str, mosquitto: MosquittoProcess
) -> None:
    async with running_api(db, mosquitto) as app:
        register(app.state.engine, "exhibit-001")
        publisher = Publisher(mosquitto.port)
        publisher.send(*batches("exhibit-001", 1, 5))
        publisher.close()
        await eventually(lambda: app.state.ingest_stats.acked == 5)

        mosquitto.stop()
        await eventually(lambda: not app.state.ingestor.connected)
        mosquitto.start()
        await eventually(lambda: app.state.ingestor.connected, timeout=15)

        publisher = Publisher(mosquitto.port)
        publisher.send(*batches("exhibit-001", 51, 5))
        publisher.close()
        stats = app.state.ingest_stats
        await eventually(lambda: stats.records_inserted == 100)
        assert record_count(app.state.engine) == 100
    # Acks still in flight when the broker stopped are redelivered after its restart
    # (at least once), and the replay inserted nothing.
    assert stats.acked >= 10
    assert stats.records_inserted == 100


async def test_ingestion_from_the_embedded_broker_of_the_single_machine_default(
    db: str, embedded_broker: EmbeddedBroker
) -> None:
    publisher = Publisher(embedded_broker.port)
    try:
        async with running_api(db, embedded_broker) as app:
            register(app.state.engine, "exhibit-001")
            first = batches("exhibit-001", 1, 20)
            publisher.send(*first, first[0], raw("fleet/v1/exhibits/exhibit-001/counts", b"!"))
            await eventually(lambda: app.state.ingest_stats.acked == 22)
            assert record_count(app.state.engine) == 200
            assert app.state.ingest_stats.quarantined == {"malformed": 1}
    finally:
        publisher.close()
