"""The trip readiness page: one button self-tests every exhibit of the visit, the banner is
green only when every check of every exhibit is, and it speaks Latvian."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.fleet_api.fakes import FakeSource
from tests.fleet_api.test_readiness_api import answer_self_tests, healthy, visit_now
from tests.fleet_api.tokens import ADMIN_TOKEN, add_token
from tests.fleet_api.web_client import log_in


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    """The app publishing through the fake source; the current agent version pinned."""
    changed = settings.model_copy(
        update={"mqtt_url": "mqtt://127.0.0.1:1", "agent_current_version": "0.2.0"}
    )
    app = create_app(changed, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


def verdicts(html: str) -> dict[tuple[str, str], str]:
    """(exhibit, check) -> verdict of every cell of the readiness table."""
    found: dict[tuple[str, str], str] = {}
    for row in re.finditer(r'<tr data-exhibit="([^"]+)"[^>]*>(.*?)</tr>', html, re.DOTALL):
        for cell in re.finditer(r'data-check="([^"]+)" data-verdict="([^"]+)"', row.group(2)):
            found[(row.group(1), cell.group(1))] = cell.group(2)
    return found


def banner(html: str) -> str:
    found = re.search(r'id="readiness-verdict" data-ready="(true|false)"', html)
    assert found is not None, "no verdict on the page"
    return found.group(1)


async def test_the_technician_accepts_configs_self_tests_all_and_gets_green(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    visit = await visit_now(client, "ex-1", "ex-2")
    write_batch(app.state.engine, [*healthy("ex-1"), *healthy("ex-2", config_hash="cfg-2")])
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    url = f"/ui/visits/{visit}/readiness"

    first = await anonymous.get(url)
    assert first.status_code == 200
    assert banner(first.text) == "false"
    cells = verdicts(first.text)
    assert cells[("ex-1", "config")] == "unknown"
    assert cells[("ex-1", "self_test")] == "not_ready"
    assert cells[("ex-1", "agent_version")] == "ready"
    assert "the version set for the fleet (FLEET_AGENT_CURRENT_VERSION)" in first.text
    assert "0.2.0" in first.text

    # One click per exhibit accepts the configuration it reports now.
    for exhibit_id, config_hash in (("ex-1", "cfg-1"), ("ex-2", "cfg-2")):
        accepted = await anonymous.post(
            f"/ui/exhibits/{exhibit_id}/expected-config",
            data={"csrf_token": csrf, "config_hash": config_hash, "visit_id": str(visit)},
        )
        assert accepted.status_code == 303
        assert accepted.headers["location"] == f"{url}?notice=config"
    assert (await client.get("/exhibits/ex-2")).json()["expected_config_hash"] == "cfg-2"
    audit = (await client.get("/audit", params={"entity": "exhibit", "entity_id": "ex-2"})).json()
    assert any(entry["after"] == {"expected_config_hash": "cfg-2"} for entry in audit), audit

    # One button self-tests every exhibit of the visit.
    started = await anonymous.post(f"/ui/visits/{visit}/self-test", data={"csrf_token": csrf})
    assert started.status_code == 303
    assert started.headers["location"] == f"{url}?notice=self_test&started=2"
    running = await anonymous.get(started.headers["location"])
    assert "Self-test started on 2 exhibits" in running.text
    assert {v for (_, check), v in verdicts(running.text).items() if check == "self_test"} == {
        "unknown"
    }
    assert "Running since" in running.text

    answer_self_tests(source, app, passed={"ex-1": True, "ex-2": True})
    green = await anonymous.get(url)
    assert banner(green.text) == "true"
    assert set(verdicts(green.text).values()) == {"ready"}
    assert "Ready to go: every exhibit is ready." in green.text

    latvian = await anonymous.get(url + "?lang=lv")
    assert "Var braukt: visi eksponāti ir gatavi." in latvian.text
    assert "Gatavība izbraukumam" in latvian.text


async def test_a_viewer_sees_the_readiness_but_no_buttons(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    visit = await visit_now(client, "ex-1")
    write_batch(app.state.engine, healthy("ex-1"))
    viewer = add_token(app.state.engine, "viewer")
    csrf = await log_in(anonymous, viewer)
    page = await anonymous.get(f"/ui/visits/{visit}/readiness")
    assert page.status_code == 200
    assert 'id="self-test-all"' not in page.text
    assert "expected-config" not in page.text
    refused = await anonymous.post(f"/ui/visits/{visit}/self-test", data={"csrf_token": csrf})
    assert refused.status_code == 403
    missing = await anonymous.get("/ui/visits/999/readiness")
    assert missing.status_code == 404


async def test_a_broker_that_does_not_answer_is_said_on_the_page(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    visit = await visit_now(client, "ex-1")
    source.connected = False
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    answer: Any = await anonymous.post(f"/ui/visits/{visit}/self-test", data={"csrf_token": csrf})
    assert answer.headers["location"].endswith("?notice=broker")
    page = await anonymous.get(answer.headers["location"])
    assert "The broker did not confirm every self-test" in page.text
