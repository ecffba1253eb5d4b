"""Commands expire, may be forced, are reported done and then cleared; self-test presses count.

Through the app's real ingestion (``Ingestor`` on a fake source): a command goes out with
its own expiry and an MQTT v5 one; the exhibit's ``CommandDone`` is stored once and the
retained command is deleted (an empty retained payload), unless a newer command holds the
topic by then; a self-test result's ``taken`` shows as self-test presses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from gpiozero.pins.mock import MockFactory

from broker.messages import Assignment, Command, CommandDone, CommandOutcome, SelfTestResult
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.core.clock import FakeClock
from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from device.settings.wiring import ButtonInput
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.device import hands
from tests.device.subscriber import Subscriber
from tests.fleet_api.builders import T0, iso
from tests.fleet_api.fakes import FakeSource, eventually
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN

EXHIBIT = "exhibit-001"
COMMAND_TOPIC = exhibit_topic(EXHIBIT, Channel.COMMAND)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    with_mqtt = settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    app = create_app(with_mqtt, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


def done(command_id: str, outcome: CommandOutcome = "ran", exhibit_id: str = EXHIBIT) -> Inbound:
    report = CommandDone(
        exhibit_id=exhibit_id,
        command_id=command_id,
        action="self_test",
        outcome=outcome,
        at=T0,
        clock_synced=False,
        visit_id=7,
    )
    return Inbound(exhibit_topic(exhibit_id, Channel.DONE), report.to_payload())


def clears(source: FakeSource) -> int:
    return sum(1 for t, payload, r in source.published if t == COMMAND_TOPIC and payload == b"")


async def send(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/exhibits/{EXHIBIT}/commands", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def test_a_command_expires_twice_over_and_may_be_forced(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    created = await send(client, action="self_test", seconds=20, expires_in_s=120, force=True)
    [(topic, payload, retain)] = source.published
    command = Command.model_validate_json(payload)
    assert (topic, retain, source.expiries) == (COMMAND_TOPIC, True, [120])
    assert command.expires_at == command.issued_at + timedelta(seconds=120)
    assert command.force is True
    assert created["expires_at"] == command.expires_at.isoformat().replace("+00:00", "Z")
    assert (created["force"], created["outcome"], created["cleared_at"]) == (True, None, None)
    plain = await send(client, action="identify")
    assert Command.model_validate_json(source.published[-1][1]).force is None  # left out
    assert source.expiries[-1] == 600  # ten minutes unless asked otherwise
    assert plain["force"] is False
    for bad in ({"expires_in_s": 5}, {"expires_in_s": 86_401}, {"force": "maybe"}):
        response = await client.post(
            f"/exhibits/{EXHIBIT}/commands", json={"action": "identify", **bad}
        )
        assert response.status_code == 422, bad


async def test_the_exhibits_report_is_stored_once_and_clears_the_retained_command(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    created = await send(client, action="self_test")
    source.push(done(created["command_id"], "refused_in_visit"))
    await eventually(lambda: clears(source) == 1)
    [listed] = (await client.get(f"/exhibits/{EXHIBIT}/commands")).json()
    assert listed["outcome"] == "refused_in_visit"
    assert listed["outcome_at"] == iso(T0)
    assert listed["reported_at"] is not None
    assert listed["cleared_at"] is not None
    # Redelivered (QoS 1): the first report stands and nothing is cleared again.
    source.push(done(created["command_id"], "ran"))
    await eventually(lambda: len(source.acked) == 2)
    [again] = (await client.get(f"/exhibits/{EXHIBIT}/commands")).json()
    assert (again["outcome"], clears(source)) == ("refused_in_visit", 1)


async def test_a_report_never_clears_a_newer_command(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    first = await send(client, action="identify")
    second = await send(client, action="self_test")
    source.push(done(first["command_id"]))
    await eventually(lambda: len(source.acked) == 1)
    assert clears(source) == 0  # the retained message is the second command now
    source.push(done(second["command_id"], "expired"))
    await eventually(lambda: clears(source) == 1)
    outcomes = {
        c["command_id"]: c["outcome"]
        for c in (await client.get(f"/exhibits/{EXHIBIT}/commands")).json()
    }
    assert outcomes == {first["command_id"]: "ran", second["command_id"]: "expired"}


async def test_reports_of_unknown_commands_or_exhibits_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    source.push(done("never-sent"), done("whatever", exhibit_id="exhibit-404"))
    await eventually(lambda: len(source.acked) == 2)
    assert clears(source) == 0
    quarantined = (await client.get("/quarantine")).json()
    assert [q["reason"] for q in quarantined] == ["unknown_exhibit"]
    mismatch = Inbound(exhibit_topic("exhibit-002", Channel.DONE), done("x").payload)
    outcome = write_batch(app.state.engine, [mismatch])
    assert dict(outcome.quarantined) == {"topic_mismatch": 1}


async def test_a_self_tests_presses_are_stored_and_shown_as_self_test_presses(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    created = await send(client, action="self_test", force=True)
    result = SelfTestResult(
        exhibit_id=EXHIBIT,
        command_id=created["command_id"],
        at=T0,
        seen={"button": True, "dial": False},
        passed=False,
        taken={"button": 5, "button_hold": 1},
    )
    write_batch(
        app.state.engine, [Inbound(exhibit_topic(EXHIBIT, Channel.SELFTEST), result.to_payload())]
    )
    [listed] = (await client.get(f"/exhibits/{EXHIBIT}/commands")).json()
    assert listed["result"]["taken"] == {"button": 5, "button_hold": 1}
    assert listed["result"]["presses_taken"] == 6
    health = (await client.get(f"/exhibits/{EXHIBIT}/health")).json()
    assert health["self_test"]["presses_taken"] == 6
    fleet = (await client.get("/fleet/health")).json()
    [item] = [e for e in fleet["exhibits"] if e["exhibit_id"] == EXHIBIT]
    assert item["self_test"]["presses_taken"] == 6


async def test_a_visits_self_test_is_forced_only_while_the_visit_is_far_enough_away(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    school = await client.post(
        "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
    )
    visits = {}
    for name, starts in (("tomorrow", timedelta(days=1)), ("soon", timedelta(minutes=5))):
        now = datetime.now(T0.tzinfo)
        response = await client.post(
            "/visits",
            json={
                "school_id": school.json()["id"],
                "starts_at": iso(now + starts),
                "ends_at": iso(now + starts + timedelta(hours=3)),
                "exhibit_ids": [EXHIBIT],
            },
        )
        assert response.status_code == 201, response.text
        visits[name] = response.json()["id"]
    response = await client.post(f"/visits/{visits['tomorrow']}/self-test")
    assert response.status_code == 202, response.text
    [sent] = response.json()
    assert sent["force"] is True  # at the depot: it expires long before the first pupil
    assert Command.model_validate_json(source.published[-1][1]).force is True
    response = await client.post(f"/visits/{visits['soon']}/self-test")
    assert response.status_code == 202, response.text
    [sent] = response.json()
    assert sent["force"] is False  # pupils may be there before it expires: never forced


async def test_through_mosquitto_the_real_agent_reports_and_the_fleet_clears(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    """The fleet API, the real Mosquitto and a real agent on mock pins, end to end.

    A self-test to an exhibit checked out to a visit is refused; a forced one takes the
    presses of its window and says so; each command is reported and then gone from the
    broker: a Pi switched on later finds none.
    """
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/fleet.db",
        mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}",
        bootstrap_admin_token=ADMIN_TOKEN,
    )
    app = create_app(settings)
    factory = MockFactory()
    clock = FakeClock(wall=datetime.now(UTC), synced=True)
    agent = Agent(
        AgentSettings(
            exhibit_id=EXHIBIT,
            broker_url=f"mqtt://127.0.0.1:{mosquitto.port}",
            data_dir=tmp_path / "agent",
            inputs=[ButtonInput(name="button", pin=17)],
            reconnect_max_s=0.5,
            heartbeat_seconds=3600,
        ),
        pin_factory=factory,
        clock=clock,
    )
    async with app.router.lifespan_context(app):
        await eventually(lambda: app.state.ingestor.connected)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://fleet.test", headers=ADMIN_HEADERS
        ) as client:

            async def settled(command_id: str) -> dict[str, Any]:
                """The command once the fleet has cleared it (reported, then deleted)."""
                for _ in range(500):
                    listed = (await client.get(f"/exhibits/{EXHIBIT}/commands")).json()
                    found = next(c for c in listed if c["command_id"] == command_id)
                    if found["cleared_at"] and (
                        found["action"] != "self_test"
                        or found["result"]
                        or found["outcome"] != "ran"
                    ):
                        return dict(found)
                    await asyncio.sleep(0.02)
                raise AssertionError(f"command {command_id} was not reported and cleared")

            await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
            agent.start()
            try:
                assert await asyncio.to_thread(agent.wait_connected, 10)
                checkout = Assignment(exhibit_id=EXHIBIT, visit_id=5, issued_at=datetime.now(UTC))
                app.state.ingestor.source.publish(
                    exhibit_topic(EXHIBIT, Channel.ASSIGNMENT),
                    checkout.to_payload(),
                    retain=True,
                    timeout_s=5,
                )
                await eventually(lambda: agent.visit_id == 5)
                refused = await settled((await send(client, action="self_test"))["command_id"])
                forced = await send(client, action="self_test", seconds=5, force=True)
                await eventually(lambda: agent.self_testing)
                await asyncio.to_thread(hands.press, factory, clock, 17, times=3)
                clock.advance(5)  # the window closes
                ran = await settled(forced["command_id"])
            finally:
                await asyncio.to_thread(agent.stop)
                factory.reset()
    assert refused["outcome"] == "refused_in_visit"
    assert ran["outcome"] == "ran"
    assert ran["result"]["taken"] == {"button": 3}
    assert ran["result"]["presses_taken"] == 3
    # A Pi switched on now finds no retained command (its assignment is still there).
    late = Subscriber(mosquitto.port, [COMMAND_TOPIC], client_id="late-pi")
    try:
        time.sleep(1)
        assert late.received("/command") == []
    finally:
        late.close()
