"""Shared fixtures: real brokers on free loopback ports, and the unit-test socket guard.

Unit tests (no ``integration``/``e2e`` mark) may not open network connections: a
guard makes ``socket.connect`` raise in them. Tests that use a broker or database
fixture are marked ``integration`` automatically.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.embedded import EmbeddedBroker
from broker.mosquitto import INSTALL_HINT, MosquittoProcess, free_port, mosquitto_binary

IN_CI = os.environ.get("CI", "").lower() == "true"
REAL_COMPONENT_FIXTURES = {"mosquitto", "embedded_broker", "postgres_url", "database_url"}


def require(found: bool, what: str, hint: str) -> None:
    """Skip visibly outside CI, fail under CI=true: a missing real component is never silent."""
    if found:
        return
    message = f"{what} is not available: {hint}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing real component is a failure)")
    pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that touches a real component as ``integration``."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & REAL_COMPONENT_FIXTURES and not item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _no_network_in_unit_tests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.get_closest_marker("integration") or request.node.get_closest_marker("e2e"):
        return

    def refuse(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX:
            return original(self, address)
        raise AssertionError(f"unit tests open no sockets (tried {address!r}); mark integration")

    original = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """The real Mosquitto binary with the project's base.conf on a free loopback port."""
    require(mosquitto_binary() is not None, "mosquitto", INSTALL_HINT)
    with MosquittoProcess(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def embedded_broker() -> Iterator[EmbeddedBroker]:
    """The embedded (rumqttd) broker of the single-machine default on a free loopback port."""
    with EmbeddedBroker(free_port()) as broker:
        yield broker
