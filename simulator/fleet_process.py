"""The real fleet API as a child process (``python -m fleet_api serve``), stoppable and restartable.

Started the way production and the end-to-end tests start it, configured through its
``FLEET_*`` environment: the database URL, the broker, and the admin token the simulator
uses (``FLEET_BOOTSTRAP_ADMIN_TOKEN``). A restart keeps the port and the database, so
the simulator's HTTP client and the API's persistent MQTT session carry on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from broker.mosquitto import free_port
from simulator.errors import FleetApiError

START_TIMEOUT_S = 60.0
POLL_S = 0.1


class FleetApiProcess:
    """One fleet API server on a loopback port; its output goes to ``log_path``."""

    def __init__(
        self,
        *,
        database_url: str,
        mqtt_url: str,
        token: str,
        log_path: Path,
        port: int | None = None,
        own_session: bool = False,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """``own_session``: a session of its own, so a terminal's Ctrl-C reaches only us
        and we stop the API in order (the demo). ``extra_env``: more ``FLEET_*`` settings
        (e.g. the broker account and TLS files of a secured broker)."""
        self.own_session = own_session
        self.extra_env = dict(extra_env or {})
        self.database_url = database_url
        self.mqtt_url = mqtt_url
        self.token = token
        self.log_path = log_path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    @property
    def client_id(self) -> str:
        """Its MQTT client id (``FLEET_MQTT_CLIENT_ID``, else the API's default)."""
        return self.extra_env.get("FLEET_MQTT_CLIENT_ID", "fleet-ingest")

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The API's environment: ours, with its ``FLEET_*`` settings replaced."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
        env.update(
            FLEET_DATABASE_URL=self.database_url,
            FLEET_MQTT_URL=self.mqtt_url,
            FLEET_BOOTSTRAP_ADMIN_TOKEN=self.token,
            # A broker restart is seconds in a simulation: reconnect within them.
            FLEET_MQTT_RECONNECT_MAX_S="2",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = START_TIMEOUT_S) -> FleetApiProcess:
        """Start and wait until ``/healthz`` says the database is fine and ingestion connected."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fleet_api",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_session,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Poll ``/healthz`` until ingestion is connected; FleetApiError after ``timeout``."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise FleetApiError(f"the fleet API exited; see {self.log_path}:\n{self._tail()}")
            try:
                answer = httpx.get(f"{self.url}/healthz", timeout=2)
                body = answer.json()
                if answer.status_code == 200 and body.get("ingestion") == "connected":
                    return
                last = f"{answer.status_code} {body}"
            except (httpx.HTTPError, ValueError) as exc:
                last = str(exc)
            time.sleep(POLL_S)
        raise FleetApiError(
            f"the fleet API was not ready within {timeout}s ({last}); {self._tail()}"
        )

    def stop(self, *, hard: bool = False, timeout: float = 30.0) -> None:
        """SIGTERM (it finishes the batch in hand), or SIGKILL with ``hard``: a crash."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""
