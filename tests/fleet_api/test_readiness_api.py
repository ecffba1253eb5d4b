"""Trip readiness through the API: ``GET /visits/{id}/readiness`` and the self-test button
(``POST /visits/{id}/self-test``) through a fake broker connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.messages import Command, SelfTestResult, Status, utc_now
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import beat, iso, status
from tests.fleet_api.fakes import FakeSource
from tests.fleet_api.tokens import ADMIN_HEADERS


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    """The app publishing through the fake source, a self-test window of 60 s."""
    changed = settings.model_copy(
        update={"mqtt_url": "mqtt://127.0.0.1:1", "readiness_self_test_s": 60.0}
    )
    app = create_app(changed, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


async def visit_now(client: httpx.AsyncClient, *exhibit_ids: str, cancelled: bool = False) -> int:
    """A visit of ``exhibit_ids`` starting in two hours."""
    for exhibit_id in exhibit_ids:
        await client.post(
            "/exhibits", json={"id": exhibit_id, "name": exhibit_id.upper(), "inputs": ["button"]}
        )
    school = await client.post(
        "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
    )
    now = utc_now()
    response = await client.post(
        "/visits",
        json={
            "school_id": school.json()["id"],
            "starts_at": iso(now + timedelta(hours=2)),
            "ends_at": iso(now + timedelta(hours=8)),
            "exhibit_ids": list(exhibit_ids),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def healthy(exhibit_id: str, *, config_hash: str = "cfg-1", **beat_change: Any) -> list[Inbound]:
    """What a healthy exhibit has said: its birth with a config hash, a good heartbeat."""
    now = utc_now()
    birth = Status(
        exhibit_id=exhibit_id,
        online=True,
        at=now,
        boot_id="boot-1",
        agent_version="0.2.0",
        config_hash=config_hash,
        inputs=["button"],
    )
    health_values: dict[str, Any] = {
        "under_voltage": False,
        "throttled": False,
        "disk_free_bytes": 8_000_000_000,
        "cpu_temp_c": 41.0,
    }
    health_values.update(beat_change)
    return [
        Inbound(exhibit_topic(exhibit_id, Channel.STATUS), birth.to_payload()),
        beat(exhibit_id, at=now, **health_values),
    ]


def answer_self_tests(source: FakeSource, app: FastAPI, *, passed: dict[str, bool]) -> None:
    """Each exhibit answers the self-test command it was sent, as the agent does."""
    answers = []
    for topic, payload, _ in source.published:
        if topic.endswith("/command"):
            sent = Command.model_validate_json(payload)
            if sent.exhibit_id in passed:
                result = SelfTestResult(
                    exhibit_id=sent.exhibit_id,
                    command_id=sent.command_id,
                    at=utc_now(),
                    seen={"button": passed[sent.exhibit_id]},
                    passed=passed[sent.exhibit_id],
                )
                answers.append(
                    Inbound(exhibit_topic(sent.exhibit_id, Channel.SELFTEST), result.to_payload())
                )
    write_batch(app.state.engine, answers)


async def test_readiness_goes_green_only_when_every_exhibit_is_ready(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource
) -> None:
    visit = await visit_now(client, "ex-1", "ex-2")
    write_batch(app.state.engine, [*healthy("ex-1"), *healthy("ex-2")])
    for exhibit_id in ("ex-1", "ex-2"):
        await client.patch(f"/exhibits/{exhibit_id}", json={"expected_config_hash": "cfg-1"})

    before = (await client.get(f"/visits/{visit}/readiness")).json()
    assert before["ready"] is False
    assert before["exhibits_ready"] == 0
    assert {c["check"]: c["reason"] for c in before["exhibits"][0]["checks"]}["self_test"] == (
        "never"
    )

    started = await client.post(f"/visits/{visit}/self-test")
    assert started.status_code == 202, started.text
    assert [(c["exhibit_id"], c["action"], c["seconds"]) for c in started.json()] == [
        ("ex-1", "self_test", 60.0),
        ("ex-2", "self_test", 60.0),
    ]
    assert all(retain for topic, _, retain in source.published if topic.endswith("/command"))
    running = (await client.get(f"/visits/{visit}/readiness")).json()
    waiting = [e["self_test_command"]["command_id"] for e in running["exhibits"]]
    assert waiting == [c["command_id"] for c in started.json()]
    assert {e["checks"][3]["reason"] for e in running["exhibits"]} == {"running"}

    answer_self_tests(source, app, passed={"ex-1": True, "ex-2": False})
    half = (await client.get(f"/visits/{visit}/readiness")).json()
    assert (half["ready"], half["exhibits_ready"]) == (False, 1)
    one, two = half["exhibits"]
    assert (one["ready"], two["ready"]) == (True, False)
    assert [c for c in two["checks"] if c["verdict"] != "ready"] == [
        {
            "check": "self_test",
            "verdict": "not_ready",
            "reason": "failed",
            "detail": "the latest self-test failed",
        }
    ]
    assert 0 <= one["self_test_age_s"] < 60

    source.published.clear()
    await client.post(f"/visits/{visit}/self-test", json={"seconds": 30})
    answer_self_tests(source, app, passed={"ex-1": True, "ex-2": True})
    green = (await client.get(f"/visits/{visit}/readiness")).json()
    assert (green["ready"], green["exhibits_ready"]) == (True, 2)
    assert green["current_agent_version"] == "0.2.0"
    assert green["current_agent_version_basis"] == "newest_reported"

    # The power supply of one of them sags: not ready any more.
    write_batch(
        app.state.engine,
        [beat("ex-2", at=utc_now(), under_voltage=True, throttled=False, disk_free_bytes=10**10)],
    )
    red = (await client.get(f"/visits/{visit}/readiness")).json()
    assert (red["ready"], red["exhibits_ready"]) == (False, 1)
    assert [c["reason"] for c in red["exhibits"][1]["checks"] if c["verdict"] != "ready"] == [
        "under_voltage"
    ]


async def test_self_testing_a_visit_when_the_broker_stops_answering(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource, auth_headers: Any
) -> None:
    visit = await visit_now(client, "ex-1", "ex-2", "ex-3")
    source.refuse.add(exhibit_topic("ex-2", Channel.COMMAND))
    refused = await client.post(f"/visits/{visit}/self-test")
    assert refused.status_code == 503
    assert "self-tests started so far: ex-1" in refused.json()["detail"]
    # ex-1 was told, and it shows as running; nothing was recorded for the others.
    readiness = (await client.get(f"/visits/{visit}/readiness")).json()
    assert [e["self_test_command"] is not None for e in readiness["exhibits"]] == [
        True,
        False,
        False,
    ]
    viewer = await client.post(f"/visits/{visit}/self-test", headers=auth_headers("viewer"))
    assert viewer.status_code == 403
    staff = await client.post(f"/visits/{visit}/self-test", headers=auth_headers("staff"))
    assert staff.status_code == 403
    assert (await client.get("/visits/999/readiness")).status_code == 404
    assert (await client.post("/visits/999/self-test")).status_code == 404
    too_long = await client.post(f"/visits/{visit}/self-test", json={"seconds": 601})
    assert too_long.status_code == 422


async def test_no_broker_connection_is_a_503_naming_the_fix(settings: Settings) -> None:
    quiet = create_app(settings)  # no FLEET_MQTT_URL: nothing to publish through
    async with quiet.router.lifespan_context(quiet):
        transport = httpx.ASGITransport(app=quiet)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=ADMIN_HEADERS
        ) as client:
            visit = await visit_now(client, "ex-1")
            refused = await client.post(f"/visits/{visit}/self-test")
    assert refused.status_code == 503
    assert "FLEET_MQTT_URL" in refused.json()["detail"]


async def test_a_cancelled_visit_raises_no_offline_alert_and_another_visit_blocks(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    now = utc_now()
    for exhibit_id in ("ex-1", "ex-2"):
        await client.post("/exhibits", json={"id": exhibit_id, "name": exhibit_id})
    school = (
        await client.post(
            "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
        )
    ).json()["id"]
    today = await client.post(
        "/visits",
        json={
            "school_id": school,
            "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(hours=1)),
            "exhibit_ids": ["ex-1", "ex-2"],
        },
    )
    tomorrow = await client.post(
        "/visits",
        json={
            "school_id": school,
            "starts_at": iso(now + timedelta(days=1)),
            "ends_at": iso(now + timedelta(days=1, hours=5)),
            "exhibit_ids": ["ex-1"],
        },
    )
    write_batch(app.state.engine, [status("ex-1", online=False, at=None, boot_id=None)])
    alerts = (await client.get("/exhibits/ex-1/health")).json()["alerts"]
    assert [a["code"] for a in alerts] == ["offline_during_visit"]
    readiness = (await client.get(f"/visits/{tomorrow.json()['id']}/readiness")).json()
    assert readiness["exhibits"][0]["checks"][0]["reason"] in {"offline", "in_another_visit"}

    write_batch(app.state.engine, healthy("ex-1"))
    busy = (await client.get(f"/visits/{tomorrow.json()['id']}/readiness")).json()
    assert busy["exhibits"][0]["checks"][0]["reason"] == "in_another_visit"

    cancel = await client.post(f"/visits/{today.json()['id']}/cancel", json={"reason": "snow"})
    assert cancel.status_code == 200, cancel.text
    write_batch(app.state.engine, [status("ex-1", online=False, at=None, boot_id=None)])
    after = (await client.get("/exhibits/ex-1/health")).json()
    assert (after["visit_now"], [a["code"] for a in after["alerts"]]) == (None, ["offline"])
