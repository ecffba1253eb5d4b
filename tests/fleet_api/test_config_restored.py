"""A fleet restored from a backup older than its last push: the next version is numbered
above what each exhibit runs or answered, so the agent (which ignores a version at or
below the one it runs) takes it; until then the fleet shows that the exhibit runs a
version it has no record of, never "matches".

End to end on SQLite and PostgreSQL: the real ``fleet-api backup`` and ``restore``, the
real Mosquitto, a real agent on mock pins. And through the app's ingestion on a fake
source: a birth or an answer of a version the restored fleet never recorded.
"""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from gpiozero.pins.mock import MockFactory
from sqlalchemy import Engine

from broker.exhibit_config import config_hash
from broker.messages import ConfigReport, ExhibitConfig, Heartbeat, Status
from broker.mosquitto import MosquittoProcess, free_port
from broker.topics import Channel, exhibit_topic
from device.runtime.agent import Agent
from fleet_api.cli import main
from fleet_api.config_drift import ConfigState, config_state
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.settings import Settings
from tests.fleet_api.builders import T0
from tests.fleet_api.fakes import FakeSource, eventually
from tests.fleet_api.helpers import register
from tests.fleet_api.test_checkout import make_visit
from tests.fleet_api.test_config_applied import DOCUMENT, EXHIBIT, _agent_settings, _rebuilt
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN
from tests.fleet_api.web_client import log_in


def _lit_for(seconds: int) -> dict[str, Any]:
    """DOCUMENT with the lamp lit for ``seconds``: another configuration, another hash."""
    return {**DOCUMENT, "behaviours": [{**DOCUMENT["behaviours"][0], "seconds": seconds}]}


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within 10 s: {what}")


async def test_a_push_after_restoring_an_older_backup_is_applied_as_the_next_version(
    tmp_path: Path,
    mosquitto: MosquittoProcess,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """v1, back up, v2 (applied), restore, push: version 3, applied (not 2, ignored)."""
    fleet = Settings(
        database_url=db_url,
        mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}",
        bootstrap_admin_token=ADMIN_TOKEN,
    )
    monkeypatch.setenv("FLEET_DATABASE_URL", db_url)
    monkeypatch.setenv("FLEET_MQTT_URL", fleet.mqtt_url or "")
    factory = MockFactory()
    settings = _agent_settings(tmp_path, mosquitto)
    agent = Agent(settings, pin_factory=factory)
    backup_file = tmp_path / "fleet-before-v2.backup"

    async def serving(
        steps: Callable[[httpx.AsyncClient, Agent], Awaitable[Agent]], running: Agent
    ) -> Agent:
        """Run the fleet API (lifespan, ingestion on the real broker) for ``steps``."""
        app = create_app(fleet)
        async with app.router.lifespan_context(app):
            await eventually(lambda: app.state.ingestor.connected)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://fleet.test", headers=ADMIN_HEADERS
            ) as client:
                return await steps(client, running)

    async def push(client: httpx.AsyncClient, document: dict[str, Any]) -> int:
        response = await client.put(f"/exhibits/{EXHIBIT}/config", json={"config": document})
        assert response.status_code == 202, response.text
        return int(response.json()["version"])

    async def health(client: httpx.AsyncClient) -> dict[str, Any]:
        return dict((await client.get(f"/exhibits/{EXHIBIT}/health")).json())

    async def history(client: httpx.AsyncClient) -> list[tuple[int, str | None]]:
        listed = (await client.get(f"/exhibits/{EXHIBIT}/config")).json()
        return [(v["version"], v["outcome"]) for v in listed]

    async def before_restore(client: httpx.AsyncClient, running: Agent) -> Agent:
        await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
        running.start()
        assert await asyncio.to_thread(running.wait_connected, 10)
        assert await push(client, _lit_for(5)) == 1
        running = await asyncio.to_thread(_rebuilt, running, settings, factory)
        await _until(lambda: _has(history(client), (1, "applied")), "version 1 applied")
        await _until(
            lambda: _equal(health(client), "config_version", 1), "the birth says version 1"
        )
        assert main(["backup", str(backup_file)]) == 0
        assert await push(client, _lit_for(8)) == 2
        running = await asyncio.to_thread(_rebuilt, running, settings, factory)
        assert running.settings.config_version == 2
        await _until(lambda: _has(history(client), (2, "applied")), "version 2 applied")
        await _until(
            lambda: _equal(health(client), "config_version", 2), "the birth says version 2"
        )
        return running

    async def after_restore(client: httpx.AsyncClient, running: Agent) -> Agent:
        assert await history(client) == [(1, "applied")]  # the backup's
        await _until(
            lambda: _heartbeat_uptime(health(client), 4242), "the heartbeat queued meanwhile"
        )
        # The broker's retained birth, not the backup's: it runs version 2.
        await _until(
            lambda: _equal(health(client), "config_version", 2), "the retained birth again"
        )
        shown = await health(client)
        assert (shown["config"], shown["expected_config_version"]) == ("unknown_version", 1)
        [drift] = [a for a in shown["alerts"] if a["code"] == "config_drift"]
        assert "no record of" in drift["message"]
        assert await push(client, _lit_for(12)) == 3
        running = await asyncio.to_thread(_rebuilt, running, settings, factory)
        assert running.settings.config_version == 3
        await _until(lambda: _has(history(client), (3, "applied")), "version 3 applied")
        assert await history(client) == [(3, "applied"), (1, "applied")]
        await _until(
            lambda: _equal(health(client), "config_version", 3), "the birth says version 3"
        )
        assert (await health(client))["config"] == "matches"
        return running

    try:
        agent = await serving(before_restore, agent)
        # The service is stopped, as for `sudo systemctl stop fleet-api`; the exhibit runs on.
        # What the broker queues for the service meanwhile must reach it after the restore.
        beat = Heartbeat(
            exhibit_id=EXHIBIT,
            at=T0,
            boot_id="b9",
            uptime_s=4242,
            clock_synced=False,
            outbox_depth=0,
        )
        subprocess.run(
            [
                "mosquitto_pub",
                "-p",
                str(mosquitto.port),
                "-q",
                "1",
                "-V",
                "mqttv5",
                "-t",
                exhibit_topic(EXHIBIT, Channel.HEARTBEAT),
                "-m",
                beat.model_dump_json(),
            ],
            check=True,
            timeout=10,
        )
        capsys.readouterr()
        assert main(["restore", str(backup_file)]) == 0
        said = capsys.readouterr().err
        assert "the broker sends every exhibit's status again" in said, said
        agent = await serving(after_restore, agent)
    finally:
        await asyncio.to_thread(agent.stop)
        factory.reset()


async def _equal(found: Awaitable[dict[str, Any]], key: str, value: Any) -> bool:
    return (await found).get(key) == value


async def _heartbeat_uptime(found: Awaitable[dict[str, Any]], uptime_s: float) -> bool:
    return ((await found).get("heartbeat") or {}).get("uptime_s") == uptime_s


async def _has(found: Awaitable[list[tuple[int, str | None]]], item: tuple[int, str]) -> bool:
    return item in await found


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    with_mqtt = settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    app = create_app(with_mqtt, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


def _birth(version: int | None, document: dict[str, Any]) -> Inbound:
    status = Status(
        exhibit_id=EXHIBIT,
        online=True,
        at=T0,
        boot_id="b1",
        agent_version="0.1.0",
        config_hash=config_hash(document),
        inputs=["button"],
        config_version=version,
    )
    return Inbound(exhibit_topic(EXHIBIT, Channel.STATUS), status.to_payload())


def _answer(version: int, outcome: str) -> Inbound:
    report = ConfigReport.model_validate(
        {
            "exhibit_id": EXHIBIT,
            "version": version,
            "config_hash": config_hash(DOCUMENT),
            "outcome": outcome,
            "reason": "pin 6 is used twice" if outcome == "refused" else None,
            "at": T0,
            "clock_synced": True,
        }
    )
    return Inbound(exhibit_topic(EXHIBIT, Channel.CONFIGURED), report.to_payload())


async def test_versions_the_fleet_never_recorded_are_shown_and_numbered_above(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, source: FakeSource
) -> None:
    """A birth of version 5 and an answer of version 9, neither in this database."""
    await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
    await client.patch(
        f"/exhibits/{EXHIBIT}", json={"expected_config_hash": config_hash(_lit_for(7))}
    )
    source.push(_birth(5, _lit_for(7)))  # the hash the fleet expects, of a version it lacks
    await eventually(lambda: len(source.acked) == 1)
    shown = (await client.get(f"/exhibits/{EXHIBIT}/health")).json()
    assert (shown["config"], shown["config_version"]) == ("unknown_version", 5)
    assert [a["code"] for a in shown["alerts"]] == ["config_drift"]
    await log_in(anonymous, ADMIN_TOKEN)
    states = {
        lang: re.search(
            r'<dd id="config-state" data-state="(\w+)">([^<]*)</dd>',
            (await anonymous.get(f"/ui/exhibits/{EXHIBIT}/config?lang={lang}")).text,
        )
        for lang in ("en", "lv")
    }
    assert states["en"] is not None
    assert states["lv"] is not None
    assert states["en"].group(1) == states["lv"].group(1) == "unknown_version"
    assert "runs configuration version 5, which this fleet has no record of" in (
        states["en"].group(2)
    )
    assert "5" in states["lv"].group(2)
    assert states["lv"].group(2) != states["en"].group(2)
    for lang in ("en", "lv"):  # the dashboard's alert says the same sentence
        dashboard = (await anonymous.get(f"/ui/?lang={lang}")).text
        assert html.escape(states[lang].group(2), quote=True) in dashboard, lang
    visit_id = await make_visit(client, EXHIBIT)
    ready = (await client.get(f"/visits/{visit_id}/readiness")).json()
    [check] = [c for c in ready["exhibits"][0]["checks"] if c["check"] == "config"]
    assert (check["verdict"], check["reason"]) == ("unknown", "unknown_version")
    assert check["detail"] == "runs version 5, which this fleet has no record of"
    for lang in ("en", "lv"):
        page = (await anonymous.get(f"/ui/visits/{visit_id}/readiness?lang={lang}")).text
        assert html.escape(states[lang].group(2), quote=True) in page, lang

    sent = await client.put(f"/exhibits/{EXHIBIT}/config", json={"config": DOCUMENT})
    assert sent.json()["version"] == 6
    assert ExhibitConfig.model_validate_json(source.published[-1][1]).version == 6
    assert (await client.get(f"/exhibits/{EXHIBIT}/health")).json()["config"] == "pending"

    # It refused a version 9 the fleet has no record of (pushed before a restore): the
    # answer is not history, but the next version goes above it.
    source.push(_answer(9, "refused"), _answer(6, "waiting"))
    await eventually(lambda: len(source.acked) == 3)
    listed = (await client.get(f"/exhibits/{EXHIBIT}/config")).json()
    assert [(v["version"], v["outcome"]) for v in listed] == [(6, "waiting")]
    again = await client.put(f"/exhibits/{EXHIBIT}/config", json={"config": _lit_for(9)})
    assert again.json()["version"] == 10
    # An older answer does not lower it: still above 9, and above the 10 stored.
    source.push(_answer(7, "refused"))
    await eventually(lambda: len(source.acked) == 4)
    third = await client.put(f"/exhibits/{EXHIBIT}/config", json={"config": _lit_for(11)})
    assert third.json()["version"] == 11


@pytest.mark.parametrize(
    ("reported", "pushed", "outcome", "state"),
    [
        ((2, "h1"), (1, "h1"), "applied", ConfigState.UNKNOWN_VERSION),  # the hash expected
        ((2, "h2"), None, None, ConfigState.UNKNOWN_VERSION),  # nothing pushed here
        ((2, "h2"), (2, "h2"), "applied", ConfigState.MATCHES),
        ((1, "h1"), (2, "h2"), None, ConfigState.PENDING),  # behind the newest: known
        ((None, "h2"), (2, "h2"), "applied", ConfigState.MATCHES),  # no version: the hash
    ],
)
def test_a_version_above_the_newest_recorded_is_unknown_whatever_the_hash(
    reported: tuple[int | None, str],
    pushed: tuple[int, str] | None,
    outcome: str | None,
    state: ConfigState,
) -> None:
    """Reported and pushed: (version, hash); the fleet expects the newest pushed hash."""
    expected = "h1" if pushed is None else pushed[1]
    found = config_state(
        expected_hash=expected,
        reported_hash=reported[1],
        registered_inputs=["button"],
        reported_inputs=["button"],
        pushed_outcome=outcome,
        pushed_hash=None if pushed is None else pushed[1],
        reported_version=reported[0],
        pushed_version=None if pushed is None else pushed[0],
    )
    assert found is state
    assert not found.wrong


@pytest.mark.integration  # it tries the broker's port
def test_a_restore_without_the_broker_says_the_statuses_are_as_old_as_the_backup(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    register(engine, EXHIBIT)
    monkeypatch.setenv("FLEET_DATABASE_URL", db_url)
    monkeypatch.setenv("FLEET_MQTT_URL", f"mqtt://127.0.0.1:{free_port()}")  # nobody there
    file = tmp_path / "fleet.backup"
    assert main(["backup", str(file)]) == 0
    capsys.readouterr()
    assert main(["restore", str(file)]) == 0  # the database is restored all the same
    said = capsys.readouterr().err
    assert "status is as old as the backup until its next birth" in said, said
    assert "is not reachable" in said, said
