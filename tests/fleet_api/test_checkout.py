"""Check-out/in and commands: retained messages to exhibits through the ingest connection.

With a fake source first (what is published, what is recorded, refusals), then against
the real Mosquitto: an exhibit subscribing after the fact still gets its assignment.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion

from broker.messages import Assignment, Command
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import T0, iso, self_test
from tests.fleet_api.fakes import FakeSource, eventually
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN

EXHIBITS = ("exhibit-001", "exhibit-002", "exhibit-003")


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    """The app ingesting from (and publishing through) the fake source."""
    with_mqtt = settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    app = create_app(with_mqtt, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


async def make_visit(client: httpx.AsyncClient, *exhibit_ids: str, day: int = 0) -> int:
    for exhibit_id in exhibit_ids:
        await client.post("/exhibits", json={"id": exhibit_id, "name": exhibit_id})
    school = await client.post(
        "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
    )
    response = await client.post(
        "/visits",
        json={
            "school_id": school.json()["id"],
            "starts_at": iso(T0 + timedelta(days=day)),
            "ends_at": iso(T0 + timedelta(days=day, hours=6)),
            "exhibit_ids": list(exhibit_ids),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def assignments(source: FakeSource) -> list[tuple[str, int | None, bool]]:
    found = []
    for topic, payload, retain in source.published:
        if topic.endswith("/assignment"):
            message = Assignment.model_validate_json(payload)
            assert topic == exhibit_topic(message.exhibit_id, Channel.ASSIGNMENT)
            found.append((message.exhibit_id, message.visit_id, retain))
    return found


async def test_checkout_sends_each_exhibit_its_retained_assignment(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    visit = await make_visit(client, "exhibit-001", "exhibit-002")
    response = await client.post(f"/visits/{visit}/checkout")
    assert response.status_code == 200, response.text
    assert response.json()["checked_out_at"] is not None
    assert response.json()["checked_in_at"] is None
    assert assignments(source) == [("exhibit-001", visit, True), ("exhibit-002", visit, True)]
    health = (await client.get("/fleet/health")).json()["exhibits"]
    assert [e["assignment"]["visit_id"] for e in health] == [visit, visit]

    again = await client.post(f"/visits/{visit}/checkout")  # harmless: sent again
    assert again.status_code == 200
    assert len(assignments(source)) == 4


async def test_an_exhibit_still_out_on_another_visit_is_a_conflict(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    first = await make_visit(client, "exhibit-001", "exhibit-002")
    second = await make_visit(client, "exhibit-002", "exhibit-003", day=1)
    assert (await client.post(f"/visits/{first}/checkout")).status_code == 200
    clash = await client.post(f"/visits/{second}/checkout")
    assert clash.status_code == 409
    assert clash.json()["code"] == "exhibit_checked_out"
    assert clash.json()["detail"] == (
        f"exhibit 'exhibit-002' is checked out to visit {first}: check that visit in first "
        f"(POST /visits/{first}/checkin)"
    )
    source.published.clear()
    checked_in = await client.post(f"/visits/{first}/checkin")
    assert checked_in.status_code == 200
    assert checked_in.json()["checked_in_at"] is not None
    assert assignments(source) == [("exhibit-001", None, True), ("exhibit-002", None, True)]
    assert (await client.post(f"/visits/{second}/checkout")).status_code == 200

    # Checking the first visit in again leaves exhibit-002, now out on the second, alone.
    source.published.clear()
    assert (await client.post(f"/visits/{first}/checkin")).status_code == 200
    assert assignments(source) == [("exhibit-001", None, True)]


async def test_checking_out_tomorrow_while_today_runs_is_refused(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    # Issue 16: the demo's staff member checked out tomorrow's visit while today's ran,
    # and today's interactions went to tomorrow. Today's visit was never checked out.
    now = datetime.now(UTC)
    for exhibit_id in ("exhibit-001", "exhibit-002"):
        await client.post("/exhibits", json={"id": exhibit_id, "name": exhibit_id})
    school = await client.post(
        "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
    )
    made = []
    for starts, exhibits in (
        (now - timedelta(hours=1), ["exhibit-001"]),
        (now + timedelta(days=1), ["exhibit-001", "exhibit-002"]),
    ):
        response = await client.post(
            "/visits",
            json={
                "school_id": school.json()["id"],
                "starts_at": iso(starts),
                "ends_at": iso(starts + timedelta(hours=6)),
                "exhibit_ids": exhibits,
            },
        )
        assert response.status_code == 201, response.text
        made.append(int(response.json()["id"]))
    today, tomorrow = made

    clash = await client.post(f"/visits/{tomorrow}/checkout")

    assert clash.status_code == 409
    assert clash.json()["code"] == "exhibit_in_running_visit"
    assert clash.json()["detail"] == (
        f"exhibit 'exhibit-001' is in visit {today}, which is running now: checking out visit "
        f"{tomorrow} would count that visit's interactions here. Refused, not deferred: check "
        f"out visit {tomorrow} once visit {today} has ended"
    )
    assert assignments(source) == []
    # Today's own check-out is fine; a cancelled running visit holds nobody back.
    assert (await client.post(f"/visits/{today}/checkout")).status_code == 200
    assert (await client.post(f"/visits/{today}/checkin")).status_code == 200
    cancel = await client.post(f"/visits/{today}/cancel", json={"reason": "storm"})
    assert cancel.status_code == 200, cancel.text
    assert (await client.post(f"/visits/{tomorrow}/checkout")).status_code == 200


async def test_an_exhibit_taken_off_a_checked_out_visit_is_cleared_at_check_in(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    visit = await make_visit(client, "exhibit-001", "exhibit-002")
    assert (await client.post(f"/visits/{visit}/checkout")).status_code == 200
    changed = await client.patch(f"/visits/{visit}", json={"exhibit_ids": ["exhibit-001"]})
    assert changed.status_code == 200
    source.published.clear()
    assert (await client.post(f"/visits/{visit}/checkin")).status_code == 200
    assert assignments(source) == [("exhibit-001", None, True), ("exhibit-002", None, True)]
    other = await make_visit(client, "exhibit-002", day=2)
    assert (await client.post(f"/visits/{other}/checkout")).status_code == 200


async def test_an_unreachable_broker_is_a_503_and_only_what_was_acked_is_recorded(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    visit = await make_visit(client, "exhibit-001", "exhibit-002")
    source.refuse.add(exhibit_topic("exhibit-002", Channel.ASSIGNMENT))
    response = await client.post(f"/visits/{visit}/checkout")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "broker_unavailable"
    assert "exhibits told so far: exhibit-001; repeat the request" in body["detail"]
    assert (await client.get(f"/visits/{visit}")).json()["checked_out_at"] is None
    health = {
        e["exhibit_id"]: e["assignment"]
        for e in (await client.get("/fleet/health")).json()["exhibits"]
    }
    assert health["exhibit-001"]["visit_id"] == visit
    assert health["exhibit-002"] is None

    source.refuse.clear()
    assert (await client.post(f"/visits/{visit}/checkout")).status_code == 200


async def test_commands_are_published_retained_and_self_tests_come_back(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource, auth_headers: Any
) -> None:
    await client.post("/exhibits", json={"id": "exhibit-001", "name": "Svārsts"})
    response = await client.post(
        "/exhibits/exhibit-001/commands",
        json={"action": "self_test", "seconds": 20},
        headers=auth_headers("technician"),
    )
    assert response.status_code == 202, response.text
    created = response.json()
    [(topic, payload, retain)] = source.published
    command = Command.model_validate_json(payload)
    assert (topic, retain) == ("fleet/v1/exhibits/exhibit-001/command", True)
    assert (command.command_id, command.action, command.seconds) == (
        created["command_id"],
        "self_test",
        20.0,
    )
    write_batch(app.state.engine, [self_test("exhibit-001", command.command_id, {"button": True})])
    [listed] = (await client.get("/exhibits/exhibit-001/commands")).json()
    assert listed["result"]["passed"] is True
    health = (await client.get("/exhibits/exhibit-001/health")).json()
    assert health["commands"][0]["result"]["seen"] == {"button": True}

    staff = await client.post(
        "/exhibits/exhibit-001/commands", json={"action": "identify"}, headers=auth_headers("staff")
    )
    assert staff.status_code == 403
    unknown = await client.post("/exhibits/exhibit-404/commands", json={"action": "identify"})
    assert unknown.status_code == 404
    bad = await client.post("/exhibits/exhibit-001/commands", json={"action": "reboot"})
    assert bad.status_code == 422


async def test_without_a_broker_connection_nothing_can_be_sent(
    settings: Settings,
) -> None:
    app = create_app(settings)  # FLEET_MQTT_URL unset: no ingestion, nothing to publish with
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://fleet.test", headers=ADMIN_HEADERS
        ) as client:
            visit = await make_visit(client, "exhibit-001")
            response = await client.post(f"/visits/{visit}/checkout")
            missing = await client.post("/visits/999/checkout")
    assert (response.status_code, response.json()["code"]) == (503, "broker_unavailable")
    assert "FLEET_MQTT_URL" in response.json()["detail"]
    assert missing.status_code == 404


class Exhibit:
    """A paho client standing in for an agent: what it receives on its fleet channels."""

    def __init__(self, port: int, exhibit_id: str) -> None:
        self.received: dict[str, bytes] = {}
        self.changed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"agent-{exhibit_id}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        for channel in (Channel.ASSIGNMENT, Channel.COMMAND):
            self.client.subscribe(exhibit_topic(exhibit_id, channel), qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received[message.topic.rsplit("/", 1)[1]] = bytes(message.payload)
        self.changed.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def real_app_settings(tmp_path: Path, mosquitto: MosquittoProcess) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path}/fleet.db",
        mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}",
        bootstrap_admin_token=ADMIN_TOKEN,
    )


async def test_an_exhibit_connecting_later_gets_its_retained_assignment_and_command(
    real_app_settings: Settings, mosquitto: MosquittoProcess
) -> None:
    app = create_app(real_app_settings)
    async with app.router.lifespan_context(app):
        await eventually(lambda: app.state.ingestor.connected)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://fleet.test", headers=ADMIN_HEADERS
        ) as client:
            visit = await make_visit(client, "exhibit-001")
            assert (await client.post(f"/visits/{visit}/checkout")).status_code == 200
            sent = await client.post("/exhibits/exhibit-001/commands", json={"action": "identify"})
            assert sent.status_code == 202

            # The Pi was off while staff checked it out; it connects afterwards.
            exhibit = Exhibit(mosquitto.port, "exhibit-001")
            try:
                await eventually(lambda: {"assignment", "command"} <= set(exhibit.received))
                assignment = json.loads(exhibit.received["assignment"])
                assert (assignment["exhibit_id"], assignment["visit_id"]) == ("exhibit-001", visit)
                assert json.loads(exhibit.received["command"])["action"] == "identify"

                exhibit.changed.clear()
                assert (await client.post(f"/visits/{visit}/checkin")).status_code == 200
                await eventually(exhibit.changed.is_set)
                cleared = Assignment.model_validate_json(exhibit.received["assignment"])
                assert cleared.visit_id is None
            finally:
                exhibit.close()
