"""``PUT /exhibits/{id}/config`` end to end: the fleet API, the real Mosquitto and a real
agent on mock pins. The fleet's history turns ``applied`` (or ``refused`` with the agent's
reason) from what the exhibit itself reports, and its health from the birth.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from gpiozero.pins.mock import MockFactory

from broker.exhibit_config import config_hash
from broker.mosquitto import MosquittoProcess
from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from device.settings.pushed import with_pushed
from fleet_api.main import create_app
from fleet_api.settings import Settings
from tests.fleet_api.fakes import eventually
from tests.fleet_api.test_checkout import make_visit
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN

EXHIBIT = "exhibit-001"
DOCUMENT: dict[str, Any] = {
    "inputs": [{"name": "button", "kind": "button", "pin": 17, "debounce_s": 0}],
    "outputs": [{"name": "lamp", "kind": "led", "pin": 5}],
    "behaviours": [
        {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5}
    ],
}


def _agent_settings(tmp_path: Path, mosquitto: MosquittoProcess, **more: Any) -> AgentSettings:
    """The exhibit's agent: a button on pin 17, talking to the test's Mosquitto."""
    return AgentSettings(
        exhibit_id=EXHIBIT,
        broker_url=f"mqtt://127.0.0.1:{mosquitto.port}",
        data_dir=tmp_path / "agent",
        inputs=[{"name": "button", "kind": "button", "pin": 17, "debounce_s": 0}],
        reconnect_max_s=0.5,
        heartbeat_seconds=3600,
        **more,
    )


def _rebuilt(agent: Agent, settings: AgentSettings, factory: MockFactory) -> Agent:
    """What ``exhibit-agent run`` does once the agent asks to be rebuilt."""
    deadline = time.monotonic() + 10
    while not agent.reconfigure_requested:
        assert time.monotonic() < deadline, "the agent did not apply the configuration"
        time.sleep(0.02)
    agent.stop()
    new = Agent(with_pushed(settings), pin_factory=factory)
    new.start()
    return new


async def test_a_pushed_config_is_applied_and_the_fleet_history_says_so(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path}/fleet.db",
            mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}",
            bootstrap_admin_token=ADMIN_TOKEN,
        )
    )
    factory = MockFactory()
    settings = _agent_settings(tmp_path, mosquitto, indicator={"pin": 6})
    agent = Agent(settings, pin_factory=factory)
    async with app.router.lifespan_context(app):
        await eventually(lambda: app.state.ingestor.connected)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://fleet.test", headers=ADMIN_HEADERS
        ) as client:

            async def history_outcomes(count: int) -> list[dict[str, Any]]:
                for _ in range(500):
                    history = (await client.get(f"/exhibits/{EXHIBIT}/config")).json()
                    if len(history) == count and all(v["outcome"] for v in history):
                        return list(history)
                    await asyncio.sleep(0.02)
                raise AssertionError(f"no outcome: {history}")

            await client.post("/exhibits", json={"id": EXHIBIT, "name": "Svārsts"})
            agent.start()
            try:
                assert await asyncio.to_thread(agent.wait_connected, 10)
                # Good for the fleet's checker, but this exhibit's indicator is on pin 6.
                clash = {**DOCUMENT, "outputs": [{"name": "lamp", "kind": "led", "pin": 6}]}
                response = await client.put(f"/exhibits/{EXHIBIT}/config", json={"config": clash})
                assert response.status_code == 202, response.text
                [refused] = await history_outcomes(1)
                assert refused["outcome"] == "refused"
                assert "pin 6 is used by both 'lamp' and 'indicator'" in refused["reason"]

                response = await client.put(
                    f"/exhibits/{EXHIBIT}/config", json={"config": DOCUMENT}
                )
                assert response.status_code == 202, response.text
                agent = await asyncio.to_thread(_rebuilt, agent, settings, factory)
                applied, _refused = await history_outcomes(2)
                assert (applied["version"], applied["outcome"]) == (2, "applied")
                assert applied["config_hash"] == config_hash(DOCUMENT)

                async def health() -> dict[str, Any]:
                    return dict((await client.get(f"/exhibits/{EXHIBIT}/health")).json())

                for _ in range(500):
                    if (await health()).get("config_version") == 2:
                        break
                    await asyncio.sleep(0.02)
                shown = await health()
                assert (shown["config_version"], shown["expected_config_version"]) == (2, 2)
                assert shown["config_outcome"] == "applied"
                factory.pin(17).drive_low()
                factory.pin(17).drive_high()
                lamp = agent.controller.outputs.device("lamp")
                await eventually(lambda: lamp.is_lit)
            finally:
                await asyncio.to_thread(agent.stop)
                factory.reset()


async def test_a_version_replaced_during_a_visit_is_superseded_and_the_newer_applied(
    tmp_path: Path, mosquitto: MosquittoProcess, settings: Settings
) -> None:
    """Check-out, v1 waits, v2 replaces it, check-in: v2 applied, v1 superseded for good."""
    app = create_app(settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{mosquitto.port}"}))
    factory = MockFactory()
    agent_settings = _agent_settings(tmp_path, mosquitto)
    longer = {**DOCUMENT, "behaviours": [{**DOCUMENT["behaviours"][0], "seconds": 8}]}
    agent = Agent(agent_settings, pin_factory=factory)
    async with app.router.lifespan_context(app):
        await eventually(lambda: app.state.ingestor.connected)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://fleet.test", headers=ADMIN_HEADERS
        ) as client:

            async def shows(*wanted: tuple[int, str, int | None]) -> list[dict[str, Any]]:
                for _ in range(500):
                    history = (await client.get(f"/exhibits/{EXHIBIT}/config")).json()
                    seen = [(v["version"], v["outcome"], v["superseded_by"]) for v in history]
                    if seen == list(wanted):
                        return list(history)
                    await asyncio.sleep(0.02)
                raise AssertionError(f"{seen} is not {list(wanted)}")

            visit_id = await make_visit(client, EXHIBIT)
            agent.start()
            try:
                assert await asyncio.to_thread(agent.wait_connected, 10)
                checkout = await client.post(f"/visits/{visit_id}/checkout")
                assert checkout.status_code == 200, checkout.text
                await eventually(lambda: agent.visit_id == visit_id)
                for document in (DOCUMENT, longer):
                    sent = await client.put(
                        f"/exhibits/{EXHIBIT}/config", json={"config": document}
                    )
                    assert sent.status_code == 202, sent.text
                    if document is DOCUMENT:
                        await shows((1, "waiting", None))
                await shows((2, "waiting", None), (1, "superseded", 2))
                assert not agent.reconfigure_requested

                checkin = await client.post(f"/visits/{visit_id}/checkin")
                assert checkin.status_code == 200, checkin.text
                agent = await asyncio.to_thread(_rebuilt, agent, agent_settings, factory)
                assert agent.settings.config_version == 2
                await shows((2, "applied", None), (1, "superseded", 2))
                for _ in range(500):
                    shown = dict((await client.get(f"/exhibits/{EXHIBIT}/health")).json())
                    if shown.get("config_version") == 2:
                        break
                    await asyncio.sleep(0.02)
                assert (shown["config"], shown["config_version"]) == ("matches", 2)
                assert shown["expected_config_version"] == 2
                await asyncio.sleep(0.5)  # the retained version 2 again: v1 stays superseded
                await shows((2, "applied", None), (1, "superseded", 2))
            finally:
                await asyncio.to_thread(agent.stop)
                factory.reset()
