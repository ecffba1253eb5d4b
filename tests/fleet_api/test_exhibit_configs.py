"""``PUT``/``GET /exhibits/{id}/config``: versioned, checked with the agent's rules, retained,
audited; the exhibit's reports and births show in fleet health and trip readiness.

Through the app's real ingestion (``Ingestor`` on a fake source) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.exhibit_config import config_hash
from broker.messages import ConfigOutcome, ConfigReport, ExhibitConfig, Status
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.settings import Settings
from tests.fleet_api.builders import T0
from tests.fleet_api.fakes import FakeSource, eventually

EXHIBIT = "exhibit-001"
TOPIC = exhibit_topic(EXHIBIT, Channel.CONFIG)
DOCUMENT: dict[str, Any] = {
    "inputs": [{"name": "button", "kind": "button", "pin": 17, "hold_s": 2}],
    "outputs": [{"name": "lamp", "kind": "led", "pin": 5}],
    "behaviours": [
        {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5}
    ],
    "attract": {"idle_s": 120, "actions": [{"output": "lamp", "action": "blink"}]},
}


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    with_mqtt = settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    app = create_app(with_mqtt, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


async def put(client: httpx.AsyncClient, document: dict[str, Any], **more: Any) -> httpx.Response:
    return await client.put(f"/exhibits/{EXHIBIT}/config", json={"config": document, **more})


def report(version: int, outcome: ConfigOutcome, reason: str | None = None) -> Inbound:
    message = ConfigReport(
        exhibit_id=EXHIBIT,
        version=version,
        config_hash=config_hash(DOCUMENT),
        outcome=outcome,
        reason=reason,
        at=T0,
        clock_synced=True,
    )
    return Inbound(exhibit_topic(EXHIBIT, Channel.CONFIGURED), message.to_payload())


def birth(hash_: str, version: int | None) -> Inbound:
    status = Status(
        exhibit_id=EXHIBIT,
        online=True,
        at=T0,
        boot_id="b1",
        agent_version="0.1.0",
        config_hash=hash_,
        inputs=["button", "button_hold"],
        config_version=version,
    )
    return Inbound(exhibit_topic(EXHIBIT, Channel.STATUS), status.to_payload())


async def health(client: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await client.get(f"/exhibits/{EXHIBIT}/health")).json())


async def test_a_configuration_is_versioned_retained_expected_and_audited(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    first = await put(client, DOCUMENT)
    assert first.status_code == 202, first.text
    [(topic, payload, retain)] = source.published
    sent = ExhibitConfig.model_validate_json(payload)
    assert (topic, retain, sent.version, sent.force) == (TOPIC, True, 1, None)
    assert sent.config == DOCUMENT
    assert sent.config_hash == config_hash(DOCUMENT)
    assert first.json()["version"] == 1
    assert first.json()["outcome"] is None
    exhibit = (await client.get(f"/exhibits/{EXHIBIT}")).json()
    assert exhibit["expected_config_hash"] == config_hash(DOCUMENT)
    assert exhibit["inputs"] == ["button", "button_hold"]  # what it will count under
    second_document = copy.deepcopy(DOCUMENT)
    second_document["behaviours"][0]["seconds"] = 8
    second = await put(client, second_document, force=True)
    assert (second.json()["version"], second.json()["force"]) == (2, True)
    assert ExhibitConfig.model_validate_json(source.published[-1][1]).force is True
    listed = await client.get(f"/exhibits/{EXHIBIT}/config")
    assert [v["version"] for v in listed.json()] == [2, 1]
    assert listed.headers["X-Total-Count"] == "2"
    assert listed.json()[1]["config"] == DOCUMENT
    audit = await client.get("/audit", params={"entity": "exhibit", "action": "exhibit.config"})
    changes = audit.json()
    assert [c["after"]["version"] for c in changes] == [2, 1]
    assert changes[1]["after"]["config"] == DOCUMENT


@pytest.mark.parametrize(
    ("path", "value", "line"),
    [
        (("outputs", 0, "pin"), 17, "setting outputs[0].pin: pin 17 is used by both"),
        (("behaviours", 0, "action"), "angle", "setting behaviours[0].action: a led cannot"),
        (("attract", "idle_s"), 0, "setting attract.idle_s: 0 is not above 0"),
    ],
)
async def test_a_configuration_the_agent_would_refuse_is_a_422_with_its_line(
    client: httpx.AsyncClient,
    source: FakeSource,
    path: tuple[str | int, ...],
    value: object,
    line: str,
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    document = copy.deepcopy(DOCUMENT)
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    response = await put(client, document)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_config"
    assert response.json()["detail"].startswith(line)
    assert source.published == []
    assert (await client.get(f"/exhibits/{EXHIBIT}/config")).json() == []
    assert (await put(client, {"inputs": "button"})).status_code == 422
    assert (await client.put(f"/exhibits/{EXHIBIT}/config", json={"inputs": []})).status_code == 422


async def test_nothing_is_recorded_when_the_broker_does_not_take_it(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    source.refuse.add(TOPIC)
    response = await put(client, DOCUMENT)
    assert (response.status_code, response.json()["code"]) == (503, "broker_unavailable")
    assert (await client.get(f"/exhibits/{EXHIBIT}/config")).json() == []
    assert (await client.get(f"/exhibits/{EXHIBIT}")).json()["expected_config_hash"] is None
    source.refuse.clear()
    assert (await put(client, DOCUMENT)).json()["version"] == 1  # repeating is safe
    assert (
        await client.put("/exhibits/nobody/config", json={"config": DOCUMENT})
    ).status_code == 404


async def test_expected_and_applied_versions_through_waiting_refused_and_applied(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    source.push(birth("0123456789abcdef", None))  # runs its local configuration
    await eventually(lambda: len(source.acked) == 1)
    await put(client, DOCUMENT)
    seen = await health(client)
    assert (seen["config"], seen["expected_config_version"], seen["config_version"]) == (
        "pending",
        1,
        None,
    )
    source.push(report(1, "waiting"))
    await eventually(lambda: len(source.acked) == 2)
    seen = await health(client)
    assert (seen["config"], seen["config_outcome"]) == ("waiting", "waiting")
    assert not [a for a in seen["alerts"] if a["code"] == "config_drift"]
    source.push(report(1, "refused", "setting outputs[0].pin: pin 5 is the indicator's"))
    await eventually(lambda: len(source.acked) == 3)
    seen = await health(client)
    assert (seen["config"], seen["config_refused_reason"]) == (
        "refused",
        "setting outputs[0].pin: pin 5 is the indicator's",
    )
    assert [a["code"] for a in seen["alerts"] if a["code"] == "config_drift"] == ["config_drift"]
    source.push(report(1, "waiting"))  # a late redelivery does not undo the refusal
    await eventually(lambda: len(source.acked) == 4)
    assert (await health(client))["config"] == "refused"
    [version] = (await client.get(f"/exhibits/{EXHIBIT}/config")).json()
    assert (version["outcome"], version["reason"]) == ("refused", seen["config_refused_reason"])
    await put(client, DOCUMENT)  # version 2, the same document: applied this time
    source.push(report(2, "applied"), birth(config_hash(DOCUMENT), 2))
    await eventually(lambda: len(source.acked) == 6)
    seen = await health(client)
    assert (seen["config"], seen["config_version"], seen["expected_config_version"]) == (
        "matches",
        2,
        2,
    )
    assert seen["config_outcome"] == "applied"
    assert seen["config_refused_reason"] is None


async def test_a_version_replaced_before_its_final_answer_is_superseded_by_the_next(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    """Only the newest is retained, and the agent drops a held version for a newer one."""

    async def outcomes() -> list[tuple[int, str | None, int | None]]:
        listed = (await client.get(f"/exhibits/{EXHIBIT}/config")).json()
        return [(v["version"], v["outcome"], v["superseded_by"]) for v in listed]

    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    source.push(birth("0123456789abcdef", None))
    await put(client, DOCUMENT)  # version 1 ...
    source.push(report(1, "waiting"))  # ... held for the visit
    await eventually(lambda: len(source.acked) == 2)
    assert await outcomes() == [(1, "waiting", None)]
    await put(client, DOCUMENT)  # version 2 replaces it on the broker and in the agent
    assert await outcomes() == [(2, None, None), (1, "superseded", 2)]
    source.push(report(2, "waiting"), report(1, "waiting"))  # v1's again: a redelivery
    await eventually(lambda: len(source.acked) == 4)
    assert await outcomes() == [(2, "waiting", None), (1, "superseded", 2)]
    seen = await health(client)
    assert (seen["config"], seen["config_outcome"], seen["expected_config_version"]) == (
        "waiting",
        "waiting",
        2,
    )
    await put(client, DOCUMENT)  # version 3, never answered while version 4 comes
    await put(client, DOCUMENT)
    source.push(report(4, "applied"), birth(config_hash(DOCUMENT), 4))
    await eventually(lambda: len(source.acked) == 6)
    assert await outcomes() == [
        (4, "applied", None),
        (3, "superseded", 4),
        (2, "superseded", 3),
        (1, "superseded", 2),
    ]
    # A page of the history tells the same (the newest version lies outside it).
    page = (await client.get(f"/exhibits/{EXHIBIT}/config", params={"offset": 2})).json()
    assert [(v["version"], v["outcome"], v["superseded_by"]) for v in page] == [
        (2, "superseded", 3),
        (1, "superseded", 2),
    ]
    seen = await health(client)
    assert (seen["config"], seen["config_version"], seen["expected_config_version"]) == (
        "matches",
        4,
        4,
    )
    # A final answer is never hidden: one given before the newer version reached the
    # exhibit (applied by a rebuild, refused) still shows, and says what it did.
    source.push(report(2, "applied"), report(3, "refused", "setting outputs[0].pin: pin 5"))
    await eventually(lambda: len(source.acked) == 8)
    assert await outcomes() == [
        (4, "applied", None),
        (3, "refused", None),
        (2, "applied", None),
        (1, "superseded", 2),
    ]
