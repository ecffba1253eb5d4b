"""The real components a scenario runs against: Mosquitto, the fleet API, partition links, a tap.

Mosquitto keeps its persistence in ``work_dir/mosquitto`` and its port across restarts;
the fleet API keeps its database and port. Only exhibits a scenario partitions reach the
broker through a :class:`simulator.netfault.PartitionProxy`; the others connect directly.

Ports are picked one component at a time, each once the one before holds its own: two
ports picked with ``free_port()`` before either is bound can be the same one.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from types import TracebackType

from broker.mosquitto import MosquittoProcess
from simulator.errors import SimError
from simulator.fleet_client import FleetClient
from simulator.fleet_process import FleetApiProcess
from simulator.mqtt_tap import MqttTap
from simulator.netfault import PartitionProxy

HOST = "127.0.0.1"


class Stack:
    """Broker, fleet API, per-exhibit partition proxies and an optional tap, started together."""

    def __init__(
        self,
        work_dir: Path,
        *,
        database_url: str,
        partitioned: set[str],
        tap: bool,
        token: str | None = None,
        workers: int = 1,
    ) -> None:
        """``workers``: 2 runs a second fleet API whose ingestion shares the exhibits'
        messages with the first (an MQTT v5 share group), for ``worker_kill``."""
        self.work_dir = work_dir
        self.database_url = database_url
        self.token = token or "fleet_sim-" + secrets.token_urlsafe(32)
        self._partitioned = sorted(partitioned)
        self._want_tap = tap
        self.broker = MosquittoProcess(work_dir / "mosquitto")
        self.proxies: dict[str, PartitionProxy] = {}
        self.tap: MqttTap | None = None
        self._api: FleetApiProcess | None = None
        self._client: FleetClient | None = None
        self._workers = workers
        self.second_worker: FleetApiProcess | None = None

    @property
    def api(self) -> FleetApiProcess:
        """The fleet API process (once started)."""
        if self._api is None:
            raise SimError("the stack is not started")
        return self._api

    @property
    def client(self) -> FleetClient:
        """An HTTP client of the fleet API with the admin token (once started)."""
        if self._client is None:
            raise SimError("the stack is not started")
        return self._client

    def broker_url(self, exhibit_id: str) -> str:
        """Where ``exhibit_id``'s agent connects: its proxy if it has one, else the broker."""
        proxy = self.proxies.get(exhibit_id)
        return proxy.url if proxy is not None else f"mqtt://{HOST}:{self.broker.port}"

    def start(self) -> Stack:
        """Start the broker, the proxies, the tap, then the API (it connects at once).

        If any of them fails, what did start is stopped again before the error goes on.
        """
        try:
            self.broker.start()
            for exhibit_id in self._partitioned:
                self.proxies[exhibit_id] = PartitionProxy(HOST, self.broker.port).start()
            if self._want_tap:
                self.tap = MqttTap(HOST, self.broker.port).start()
            self._api = self._fleet_api(1)
            self._client = FleetClient(self._api.url, token=self.token, timeout=30.0)
            self._api.start()
            if self._workers > 1:
                self.second_worker = self._fleet_api(2).start()
        except BaseException:
            self.close()
            raise
        return self

    def _fleet_api(self, number: int) -> FleetApiProcess:
        shared = (
            {"FLEET_MQTT_SHARE_GROUP": "ingest", "FLEET_MQTT_CLIENT_ID": f"fleet-ingest-{number}"}
            if self._workers > 1
            else {}
        )
        return FleetApiProcess(
            database_url=self.database_url,
            mqtt_url=f"mqtt://{HOST}:{self.broker.port}",
            token=self.token,
            log_path=self.work_dir
            / ("fleet-api.log" if number == 1 else f"fleet-api-{number}.log"),
            extra_env=shared,
        )

    def close(self) -> None:
        """Stop everything that runs (idempotent)."""
        if self._client is not None:
            self._client.close()
        if self.second_worker is not None:
            self.second_worker.stop()
        if self._api is not None:
            self._api.stop()
        if self.tap is not None:
            self.tap.close()
        for proxy in self.proxies.values():
            proxy.close()
        self.proxies.clear()
        self.broker.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
