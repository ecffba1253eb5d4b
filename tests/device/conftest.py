"""Fixtures for the agent's tests: one MockFactory per test, settings in tmp_path, no stray env.

And the set-up the broker tests share: a real agent on the test's MockFactory pins against
a real broker on a port (``broker_settings``, ``started``; ``exhibit-agent run`` in a child
process: ``agent_run``), pressed with ``press`` and ``presence``, read by the fleet's end
(``subscribers``, ``subscribe``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from device.core.clock import FakeClock
from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from tests.device.subscriber import Subscriber

SettingsMaker = Callable[..., AgentSettings]
ROOT = Path(__file__).parents[2]

INSTANT_INPUTS: list[dict[str, Any]] = [
    {"name": "button", "kind": "button", "pin": 17, "debounce_s": 0},
    {"name": "motion", "kind": "motion", "pin": 4, "debounce_s": 0},
]
"""A button on 17 and a PIR on 4 that take no debounce: a drive counts at once."""


@pytest.fixture(autouse=True)
def _no_agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's EXHIBIT_* variables must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("EXHIBIT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """A fresh mock pin factory; reset afterwards so no pin stays reserved."""
    pins = MockFactory()
    yield pins
    pins.reset()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when told."""
    return FakeClock()


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsMaker:
    """Settings for one exhibit with a button on 17 and a motion sensor on 4, in tmp_path."""

    def make(**overrides: Any) -> AgentSettings:
        values: dict[str, Any] = {
            "exhibit_id": "exhibit-001",
            "data_dir": tmp_path / "agent",
            "inputs": [
                {"name": "button", "kind": "button", "pin": 17},
                {"name": "motion", "kind": "motion", "pin": 4},
            ],
            "heartbeat_seconds": 3600,
        }
        values.update(overrides)
        return AgentSettings(**values)

    return make


@pytest.fixture
def subscribers() -> Iterator[list[Subscriber]]:
    """Subscribers made by a test are closed after it."""
    made: list[Subscriber] = []
    yield made
    for subscriber in made:
        subscriber.close()


def broker_settings(make_settings: SettingsMaker, port: int, **overrides: Any) -> AgentSettings:
    """Settings for the broker on loopback ``port``: ``INSTANT_INPUTS``, reconnects within 0.5 s."""
    values: dict[str, Any] = {
        "broker_url": f"mqtt://127.0.0.1:{port}",
        "inputs": INSTANT_INPUTS,
        "reconnect_max_s": 0.5,
    }
    values.update(overrides)
    return make_settings(**values)


def started(settings: AgentSettings, factory: MockFactory) -> Agent:
    """A real agent on ``factory``'s pins, started and connected to its broker."""
    agent = Agent(settings, pin_factory=factory)
    agent.start()
    assert agent.wait_connected(10)
    return agent


def press(factory: MockFactory, times: int = 1) -> None:
    """Instant presses of the button on 17 (``INSTANT_INPUTS`` take no debounce)."""
    for _ in range(times):
        factory.pin(17).drive_low()
        factory.pin(17).drive_high()


def subscribe(
    made: list[Subscriber],
    port: int,
    *topics: str,
    client_id: str = "test-subscriber",
    persistent: bool = False,
) -> Subscriber:
    """A subscriber that confirms the count batches it receives, as the fleet does."""
    subscriber = Subscriber(
        port, list(topics), client_id=client_id, persistent=persistent, confirm=True
    )
    made.append(subscriber)
    return subscriber


def presence(factory: MockFactory) -> None:
    """A visitor in front of the PIR and gone again (``INSTANT_INPUTS``: no debounce)."""
    factory.pin(4).drive_high()
    factory.pin(4).drive_low()


@contextmanager
def agent_run(
    port: int,
    data_dir: Path,
    inputs: list[dict[str, Any]],
    *,
    notify_timeout: float,
    **env: str,
) -> Iterator[tuple[subprocess.Popen[str], socket.socket]]:
    """``exhibit-agent run`` of exhibit-001 on mock pins in a child process, for the broker on
    ``port``, and systemd's end of its NOTIFY_SOCKET; ``env``: more variables (WATCHDOG_USEC).

    Afterwards the socket is closed and a child still running is killed.
    """
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = f"@exhibit-agent-{uuid.uuid4().hex}"
    systemd.bind("\0" + address[1:])
    systemd.settimeout(notify_timeout)
    variables = {
        **os.environ,
        "GPIOZERO_PIN_FACTORY": "mock",
        "NOTIFY_SOCKET": address,
        "EXHIBIT_EXHIBIT_ID": "exhibit-001",
        "EXHIBIT_BROKER_URL": f"mqtt://127.0.0.1:{port}",
        "EXHIBIT_DATA_DIR": str(data_dir),
        "EXHIBIT_INPUTS": json.dumps(inputs),
        **env,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "device.runtime.cli", "run"],
        env=variables,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield child, systemd
    finally:
        systemd.close()
        if child.poll() is None:
            child.kill()
            child.communicate()
