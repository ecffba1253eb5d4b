"""The fleet API as a real child process (uvicorn), the way the demo and production run it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from broker.mosquitto import free_port

ApiFactory = Callable[[str], str]
TOKEN = "fleet_e2e-admin-token-0123456789abcdefghijklmnop"
"""The admin token every API started here has (FLEET_BOOTSTRAP_ADMIN_TOKEN)."""


@pytest.fixture
def fleet_api(tmp_path: Path) -> Iterator[ApiFactory]:
    """Start ``python -m fleet_api serve`` on SQLite for a broker URL; return its base URL.

    The API has the admin token :data:`TOKEN`.
    """
    processes: list[subprocess.Popen[bytes]] = []

    def start(mqtt_url: str) -> str:
        port = free_port()
        env = dict(os.environ)
        env["FLEET_DATABASE_URL"] = f"sqlite:///{tmp_path / 'fleet.db'}"
        env["FLEET_MQTT_URL"] = mqtt_url
        env["FLEET_BOOTSTRAP_ADMIN_TOKEN"] = TOKEN
        log = (tmp_path / "api.log").open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleet_api",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "api.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            "fleet API did not become healthy:\n" + (tmp_path / "api.log").read_text()
        )

    yield start
    for process in processes:
        process.terminate()
        process.wait(15)
