"""Check-out/in and commands from the pages: published through the ingest connection
(a fake source here), with htmx fragments and plain-form fallbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from broker.messages import Assignment, Command, CommandDone, SelfTestResult
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import T0
from tests.fleet_api.fakes import FakeSource
from tests.fleet_api.tokens import ADMIN_TOKEN
from tests.fleet_api.web_client import log_in, seed_visit

HTMX = {"HX-Request": "true"}


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    """The app publishing through the fake source."""
    with_mqtt = settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    app = create_app(with_mqtt, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


async def test_check_out_and_in_from_the_visit_page(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    out = await anonymous.post(
        f"/ui/visits/{visit_id}/checkout", data={"csrf_token": csrf}, headers=HTMX
    )
    assert out.status_code == 200
    assert out.text.startswith('<section id="checkout"')  # a fragment for htmx to swap
    assert "The exhibits have been told they are on this visit." in out.text
    sent = [Assignment.model_validate_json(payload) for _, payload, _ in source.published]
    assert [(a.exhibit_id, a.visit_id) for a in sent] == [("ex-1", visit_id), ("ex-2", visit_id)]
    assert all(retain for _, _, retain in source.published)
    assert (await client.get(f"/visits/{visit_id}")).json()["checked_out_at"] is not None

    # Without JavaScript the form posts normally and the page says what happened.
    back = await anonymous.post(f"/ui/visits/{visit_id}/checkin", data={"csrf_token": csrf})
    assert back.status_code == 303
    assert back.headers["location"] == f"/ui/visits/{visit_id}?notice=checked_in"
    page = await anonymous.get(back.headers["location"])
    assert "The exhibits have been told the visit is over." in page.text
    assert Assignment.model_validate_json(source.published[-1][1]).visit_id is None


async def test_a_broker_that_does_not_confirm_is_reported_and_nothing_is_recorded(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    source.refuse = {"fleet/v1/exhibits/ex-1/assignment"}
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    out = await anonymous.post(
        f"/ui/visits/{visit_id}/checkout", data={"csrf_token": csrf}, headers=HTMX
    )
    assert "could not be reached through the broker" in out.text
    assert 'role="alert"' in out.text
    assert (await client.get(f"/visits/{visit_id}")).json()["checked_out_at"] is None
    plain = await anonymous.post(f"/ui/visits/{visit_id}/checkout", data={"csrf_token": csrf})
    assert plain.headers["location"] == f"/ui/visits/{visit_id}?problem=broker"
    assert "could not be reached" in (await anonymous.get(plain.headers["location"])).text


async def test_a_technician_starts_a_self_test_from_the_technician_page(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    await seed_visit(client, app.state.engine)
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    page = await anonymous.get("/ui/technician")
    assert 'hx-post="/ui/exhibits/ex-1/commands/self_test"' in page.text
    response = await anonymous.post(
        "/ui/exhibits/ex-1/commands/self_test", data={"csrf_token": csrf}, headers=HTMX
    )
    assert response.status_code == 200
    assert 'id="command-ex-1"' in response.text
    assert "Self-test started" in response.text
    (topic, payload, retain) = source.published[-1]
    command = Command.model_validate_json(payload)
    assert (topic, command.action, retain) == ("fleet/v1/exhibits/ex-1/command", "self_test", True)
    listed = (await client.get("/exhibits/ex-1/commands")).json()
    assert [c["command_id"] for c in listed] == [command.command_id]
    shown = await anonymous.get("/ui/exhibits/ex-1")
    assert "waiting for the result" in shown.text


async def test_the_exhibit_page_says_what_became_of_each_command_in_both_languages(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    refused = (await client.post("/exhibits/ex-1/commands", json={"action": "self_test"})).json()
    forced = (
        await client.post("/exhibits/ex-1/commands", json={"action": "self_test", "force": True})
    ).json()
    reports = [
        CommandDone(
            exhibit_id="ex-1",
            command_id=command["command_id"],
            action="self_test",
            outcome=outcome,
            at=T0,
            clock_synced=False,
            visit_id=1,
        )
        for command, outcome in ((refused, "refused_in_visit"), (forced, "ran"))
    ]
    result = SelfTestResult(
        exhibit_id="ex-1",
        command_id=forced["command_id"],
        at=T0,
        seen={"button": True},
        passed=True,
        taken={"button": 4},
    )
    write_batch(
        app.state.engine,
        [
            *(Inbound(exhibit_topic("ex-1", Channel.DONE), r.to_payload()) for r in reports),
            Inbound(exhibit_topic("ex-1", Channel.SELFTEST), result.to_payload()),
        ],
    )
    english = (await anonymous.get("/ui/exhibits/ex-1")).text
    assert "not run: the exhibit is checked out to a visit" in english
    assert "self-test presses (not counted as visitors'): 4" in english
    latvian = (await anonymous.get("/ui/exhibits/ex-1", headers={"Accept-Language": "lv"})).text
    assert "nav izpildīta: eksponāts ir izsniegts izbraukumam" in latvian
    assert "pašpārbaudes spiedieni (neieskaitīti apmeklētāju skaitā): 4" in latvian
    technician = (await anonymous.get("/ui/technician")).text
    assert "self-test presses (not counted as visitors'): 4" in technician
