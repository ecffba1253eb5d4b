"""The configuration page: a technician edits inputs, outputs and behaviours in rows; the
document is checked with the agent's own rules, sent like ``PUT /exhibits/{id}/config``,
and the page shows each version with what the exhibit did, in English and Latvian."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from broker.exhibit_config import config_hash
from broker.messages import ConfigReport, ExhibitConfig
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.web.config_form import document_of, rows_of
from tests.broker.test_exhibit_config import EXAMPLE
from tests.fleet_api.builders import T0
from tests.fleet_api.fakes import FakeSource, eventually
from tests.fleet_api.tokens import ADMIN_TOKEN, add_token
from tests.fleet_api.web_client import csrf_of, log_in

EXHIBIT = "exhibit-001"
URL = f"/ui/exhibits/{EXHIBIT}/config"


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    with_mqtt = settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    app = create_app(with_mqtt, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


def form_of(html: str) -> dict[str, str]:
    """Every text field of the page's configuration form, as a browser would send it."""
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', html)
    }


def test_the_rows_give_back_the_document_they_show() -> None:
    rows = rows_of(EXAMPLE)
    form: dict[str, str] = {}
    for key in ("inputs", "outputs", "behaviours"):
        for index, row in enumerate(rows[key]):
            form.update({f"{key}.{index}.{column}": value for column, value in row.items()})
    form.update({f"attract.{k}": v for k, v in rows["attract"].items()})
    form.update({f"quiet.{k}": v for k, v in rows["quiet"].items()})
    form.update(bucket_seconds=rows["bucket_seconds"], session_idle_s=rows["session_idle_s"])
    assert config_hash(document_of(form)) == config_hash(EXAMPLE)


async def test_a_technician_sends_a_configuration_from_the_form(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    page = await anonymous.get(URL)
    assert page.status_code == 200
    form = form_of(page.text) | {
        "inputs.0.name": "button",
        "inputs.0.kind": "button",
        "inputs.0.pins": "17",
        "inputs.0.options": "hold_s=2",
        "outputs.0.name": "lamp",
        "outputs.0.kind": "led",
        "outputs.0.pins": "5",
        "behaviours.0.input": "button",
        "behaviours.0.event": "press",
        "behaviours.0.output": "lamp",
        "behaviours.0.action": "on",
        "behaviours.0.options": "seconds=5",
        "attract.idle_s": "120",
        "attract.output": "lamp",
        "attract.action": "blink",
        "csrf_token": csrf,
    }
    sent = await anonymous.post(URL, data=form)
    assert sent.status_code == 303, sent.text
    [(topic, payload, retain)] = source.published
    message = ExhibitConfig.model_validate_json(payload)
    assert (topic, retain, message.version) == (exhibit_topic(EXHIBIT, Channel.CONFIG), True, 1)
    assert message.config["behaviours"] == [
        {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5}
    ]
    assert message.config["inputs"] == [
        {"name": "button", "kind": "button", "pin": 17, "hold_s": 2}
    ]
    report = ConfigReport(
        exhibit_id=EXHIBIT,
        version=1,
        config_hash=message.config_hash,
        outcome="refused",
        reason="setting outputs[0].pin: pin 5 is the indicator's; wire it elsewhere",
        at=T0,
        clock_synced=True,
    )
    source.push(Inbound(exhibit_topic(EXHIBIT, Channel.CONFIGURED), report.to_payload()))
    await eventually(lambda: len(source.acked) == 1)
    shown = await anonymous.get(URL + "?lang=lv")
    assert 'data-state="refused"' in shown.text
    assert "Tas atteica konfigurācijas versiju 1" in shown.text
    assert 'data-outcome="refused"' in shown.text
    assert form_of(shown.text)["outputs.0.pins"] == "5"  # the form starts from the newest


async def test_a_mistake_is_shown_at_its_field_with_the_agents_words_and_nothing_is_sent(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    form = {
        "inputs.0.name": "button",
        "inputs.0.kind": "button",
        "inputs.0.pins": "17",
        "outputs.0.name": "lamp",
        "outputs.0.kind": "led",
        "outputs.0.pins": "17",
        "csrf_token": csrf,
    }
    refused = await anonymous.post(URL, data=form)
    assert refused.status_code == 422
    assert (
        'id="outputs.0.pins" name="outputs.0.pins" value="17" aria-label="Pins" aria-invalid="true"'
        in refused.text
    )
    assert (
        "outputs[0].pin: pin 17 is used by both &#39;button&#39; and &#39;lamp&#39;" in refused.text
    )
    assert source.published == []
    assert csrf_of(refused.text)


async def test_a_viewer_reads_the_versions_but_gets_no_form(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    csrf = await log_in(anonymous, add_token(app.state.engine, "viewer"))
    page = await anonymous.get(URL)
    assert page.status_code == 200
    assert 'id="config-form"' not in page.text
    posted = await anonymous.post(URL, data={"inputs.0.name": "x", "csrf_token": csrf})
    assert posted.status_code == 403


async def test_a_version_replaced_while_it_waited_shows_as_superseded(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    for version in (1, 2):
        sent = await client.put(f"/exhibits/{EXHIBIT}/config", json={"config": EXAMPLE})
        assert sent.json()["version"] == version
        report = ConfigReport(
            exhibit_id=EXHIBIT,
            version=version,
            config_hash=config_hash(EXAMPLE),
            outcome="waiting",
            at=T0,
            clock_synced=True,
        )
        source.push(Inbound(exhibit_topic(EXHIBIT, Channel.CONFIGURED), report.to_payload()))
        await eventually(lambda version=version: len(source.acked) == version)
    await log_in(anonymous, ADMIN_TOKEN)
    rows = {
        lang: re.findall(
            r'<tr data-version="(\d)">.*?<td data-outcome="(\w*)">([^<]*)</td>',
            (await anonymous.get(URL + f"?lang={lang}")).text,
            re.S,
        )
        for lang in ("en", "lv")
    }
    assert rows["en"] == [
        ("2", "waiting", "waiting until its visit ends"),
        ("1", "superseded", "superseded by version 2 (not applied)"),
    ]
    assert rows["lv"] == [
        ("2", "waiting", "gaida, līdz beigsies izbraukums"),
        ("1", "superseded", "aizstāta ar versiju 2 (nav piemērota)"),
    ]
