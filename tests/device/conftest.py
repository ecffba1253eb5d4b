"""Fixtures for the agent's tests: one MockFactory per test, settings in tmp_path, no stray env."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from device.core.clock import FakeClock
from device.settings.config import AgentSettings

SettingsMaker = Callable[..., AgentSettings]


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
