"""The technician's 7 am check in Debian's Chromium, against real agents.

Two real agents (in this process, on gpiozero mock pins, with a Raspberry Pi's firmware
file saying the power is fine and a synchronised clock) talk to the real Mosquitto; the
fleet API runs as a child process. The technician opens the visit's readiness page: not
ready. One click per exhibit accepts the configuration it reports; one button self-tests
every exhibit; the technician presses each exhibit's button; the page (refreshing
itself) turns green. Then the same page in Latvian.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from playwright.sync_api import expect

from broker.mosquitto import MosquittoProcess
from device.core.clock import SystemClock
from device.ops.health import HealthProbe
from device.runtime import worker
from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from simulator.fleet_process import FleetApiProcess
from tests.browser.pages import Console, api, new_token, shoot
from tests.e2e.conftest import TOKEN

EXHIBITS = ("pi-pendulum", "pi-prism")
SELF_TEST_S = 6


@pytest.fixture
def pi_files(tmp_path: Path) -> dict[str, Path]:
    """What a healthy Raspberry Pi shows: firmware flags 0x0, 45 °C, timesyncd synced."""
    files = {
        "throttled": tmp_path / "get_throttled",
        "thermal": tmp_path / "temp",
        "synced": tmp_path / "synchronized",
    }
    files["throttled"].write_text("0x0\n")
    files["thermal"].write_text("45000\n")
    files["synced"].write_text("")
    return files


@pytest.fixture
def visit(base: str) -> dict[str, Any]:
    """The exhibits registered (before their Pis first start, as provisioning does) and a
    visit taking them in three hours."""
    with api(base) as client:
        for exhibit_id, name in zip(EXHIBITS, ("Pendulum", "Prism"), strict=True):
            created = client.post(
                "/exhibits", json={"id": exhibit_id, "name": name, "inputs": ["button"]}
            )
            assert created.status_code == 201, created.text
        school = client.post(
            "/schools",
            json={"name": "Rēzeknes skola", "municipality": "Rēzekne", "region": "Latgale"},
        ).json()
        tomorrow = datetime.now(UTC) + timedelta(hours=3)
        visit = client.post(
            "/visits",
            json={
                "school_id": school["id"],
                "starts_at": tomorrow.isoformat(),
                "ends_at": (tomorrow + timedelta(hours=5)).isoformat(),
                "exhibit_ids": list(EXHIBITS),
            },
        ).json()
    return dict(visit)


@pytest.fixture
def agents(
    visit: dict[str, Any],
    mosquitto: MosquittoProcess,
    tmp_path: Path,
    pi_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, MockFactory]]:
    """The real agents, one mock pin factory each; stopped afterwards."""
    monkeypatch.setattr(
        worker,
        "HealthProbe",
        partial(HealthProbe, throttled=pi_files["throttled"], thermal=pi_files["thermal"]),
    )
    running: list[Agent] = []
    pins: dict[str, MockFactory] = {}
    for exhibit_id in EXHIBITS:
        factory = MockFactory()
        settings = AgentSettings(
            exhibit_id=exhibit_id,
            data_dir=tmp_path / exhibit_id,
            broker_url=f"mqtt://127.0.0.1:{mosquitto.port}",
            inputs=[{"name": "button", "kind": "button", "pin": 17, "debounce_s": 0}],
            heartbeat_seconds=2,
            reconnect_max_s=0.5,
        )
        agent = Agent(
            settings, pin_factory=factory, clock=SystemClock(sync_marker=pi_files["synced"])
        )
        agent.start()
        assert agent.wait_connected(15)
        running.append(agent)
        pins[exhibit_id] = factory
    yield pins
    for agent in running:
        agent.stop()
    for factory in pins.values():
        factory.reset()


@pytest.fixture
def base(mosquitto: MosquittoProcess, tmp_path: Path) -> Iterator[str]:
    """The fleet API as a child process, self-tests of a few seconds."""
    process = FleetApiProcess(
        database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
        mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}",
        token=TOKEN,
        log_path=tmp_path / "api.log",
        extra_env={"FLEET_READINESS_SELF_TEST_S": str(SELF_TEST_S)},
    )
    process.start(timeout=60)
    yield process.url
    process.stop(timeout=15)


def test_the_7_am_check_turns_green_in_the_browser(
    chromium: Any,
    base: str,
    visit: dict[str, Any],
    agents: dict[str, MockFactory],
    screenshot_dir: Path,
) -> None:
    technician = new_token(base, "technician", "Jānis")
    context = chromium.new_context(
        base_url=base, locale="en-GB", viewport={"width": 1400, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    console = Console()
    console.watch(page)
    try:
        page.goto(f"/ui/visits/{visit['id']}")
        page.get_by_label("API token").fill(technician)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Trip readiness").click()
        expect(page.get_by_role("heading", name="Trip readiness")).to_be_visible()
        verdict = page.locator("#readiness-verdict")
        expect(verdict).to_have_attribute("data-ready", "false")
        # The agents' heartbeats arrive within seconds: online, clock, disk, power fine.
        for exhibit_id in EXHIBITS:
            row = page.locator(f'tr[data-exhibit="{exhibit_id}"]')
            expect(row.locator('td[data-check="state"]')).to_have_attribute("data-verdict", "ready")
            expect(row.locator('td[data-check="power"]')).to_have_attribute("data-verdict", "ready")
        shoot(page, screenshot_dir, "readiness-before")

        for name in ("Pendulum", "Prism"):
            page.get_by_role(
                "button", name=f"Accept this configuration as expected \N{EN DASH} {name}"
            ).click()
            expect(
                page.get_by_text("The configuration it reports is now the expected one.")
            ).to_be_visible()

        page.get_by_role("button", name="Self-test every exhibit").click()
        expect(page.get_by_text("Self-test started on 2 exhibits")).to_be_visible()
        time.sleep(1.0)  # the retained command reaches each agent
        for factory in agents.values():  # walk from one exhibit to the next and press
            factory.pin(17).drive_low()
            time.sleep(0.2)
            factory.pin(17).drive_high()
        # The page refreshes itself every 10 s; the results arrive when the windows close.
        expect(verdict).to_have_attribute("data-ready", "true", timeout=60_000)
        expect(verdict).to_contain_text("Ready to go: every exhibit is ready.")
        shoot(page, screenshot_dir, "readiness-green")

        page.goto(f"/ui/visits/{visit['id']}/readiness?lang=lv")
        expect(page.locator("#readiness-verdict")).to_contain_text("Var braukt")
        shoot(page, screenshot_dir, "readiness-green-lv")
        with api(base) as client:
            readiness = client.get(f"/visits/{visit['id']}/readiness").json()
        assert readiness["ready"] is True
        assert all(e["self_test"]["passed"] for e in readiness["exhibits"])
        assert re.fullmatch(r"[0-9a-f]{16}", readiness["exhibits"][0]["expected_config_hash"])
        assert console.errors == []
    finally:
        context.close()
