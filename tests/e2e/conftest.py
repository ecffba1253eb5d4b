"""The fleet API as a real child process (uvicorn), the way the demo and production run it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simulator.fleet_process import FleetApiProcess

ApiFactory = Callable[[str], str]
TOKEN = "fleet_e2e-admin-token-0123456789abcdefghijklmnop"
"""The admin token every API started here has (FLEET_BOOTSTRAP_ADMIN_TOKEN)."""


@pytest.fixture
def fleet_api(tmp_path: Path) -> Iterator[ApiFactory]:
    """Start ``python -m fleet_api serve`` on SQLite for a broker URL; return its base URL.

    The API has the admin token :data:`TOKEN`.
    """
    processes: list[FleetApiProcess] = []

    def start(mqtt_url: str) -> str:
        api = FleetApiProcess(
            database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
            mqtt_url=mqtt_url,
            token=TOKEN,
            log_path=tmp_path / "api.log",
        )
        processes.append(api)
        return api.start(timeout=30).url

    yield start
    for api in processes:
        api.stop(timeout=15)
