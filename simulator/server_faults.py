"""Faults of the depot's server: Mosquitto killed, the server's power cut, an ingest worker
dead for good, and the fleet database restored from a backup taken earlier in the run.

Each is what the issue of custody is about: the broker's PUBACK is no custody (a kill -9
loses what Mosquitto acknowledged since its last snapshot), so the exhibits keep every
record until the fleet confirms it, and a while after, which a restored fleet asks for
again. Every handler returns what it observed for the faults log; a fault whose own
check fails (a restore that took nothing back, so proves nothing) is reported through
``fail``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from simulator.errors import FleetApiError
from simulator.plan import Event
from simulator.scenario import Scenario
from simulator.scenario_faults import DatabaseRestore
from simulator.stack import Stack

CHECK_TIMEOUT_S = 30.0
Handler = Callable[[Event], dict[str, Any]]


class ServerFaults:
    """The handlers of the server faults' timeline actions (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        stack: Stack,
        *,
        await_links: Callable[..., None],
        fail: Callable[[Event, str], dict[str, Any]],
    ) -> None:
        self.scenario = scenario
        self.stack = stack
        self._await_links = await_links
        self._fail = fail
        self._backups: dict[int, Path] = {}

    def handlers(self) -> dict[str, Handler]:
        """Action name -> handler."""
        return {
            "ingest_stop": self._ingest_stop,
            "broker_kill": self._broker_kill,
            "server_kill": self._server_kill,
            "server_start": self._server_start,
            "worker_kill": self._worker_kill,
            "backup": self._backup,
            "restore": self._restore,
        }

    def _ingest_stop(self, event: Event) -> dict[str, Any]:
        self.stack.api.stop()  # SIGTERM: the broker queues for its persistent session now
        return {"signal": "SIGTERM"}

    def _broker_kill(self, event: Event) -> dict[str, Any]:
        running = self.stack.api.running
        self.stack.broker.kill()
        return {"signal": "SIGKILL", "ingest": "running" if running else "down"}

    def _server_kill(self, event: Event) -> dict[str, Any]:
        self.stack.broker.kill()
        self.stack.api.stop(hard=True)
        return {"signal": "SIGKILL", "killed": ["mosquitto", "fleet-api"]}

    def _server_start(self, event: Event) -> dict[str, Any]:
        self.stack.broker.start()
        if self.stack.api.running:
            self.stack.api.wait_ready(CHECK_TIMEOUT_S)  # ingestion connected again
        else:
            self.stack.api.start()
        # Connected, not drained: exhibits that reconnected before the fleet's ingestion
        # subscribed again (its session died with the broker) had their resends dropped
        # for want of a subscriber, and send them again at their custody timeout, on the
        # simulated clock, which moves on with the timeline.
        self._await_links(self.scenario.exhibit_defs(), drained=False)
        return {}

    def _worker_kill(self, event: Event) -> dict[str, Any]:
        worker = self.stack.second_worker
        if worker is None:
            return self._fail(event, "worker_kill needs the second ingest worker of the stack")
        worker.stop(hard=True)
        return {"signal": "SIGKILL", "worker": worker.client_id}

    def _backup(self, event: Event) -> dict[str, Any]:
        folder = self.stack.work_dir / "backups"
        folder.mkdir(exist_ok=True)
        target = folder / f"fault-{event.fault}.backup"
        self._fleet_api("backup", str(target))
        self._backups[event.fault or 0] = target
        return {"backup": target.name, "bytes": target.stat().st_size}

    def _restore(self, event: Event) -> dict[str, Any]:
        fault = self.scenario.faults[event.fault or 0]
        assert isinstance(fault, DatabaseRestore)
        backup = self._backups.get(event.fault or 0)
        if backup is None:
            return self._fail(event, "no backup was taken before the restore")
        before = self.stack.client.stored_upto()
        self.stack.api.stop()
        printed = self._fleet_api("restore", str(backup))
        # "EXHIBIT<tab>resend from seq N": the restored database lacks N on.
        asked = {
            line.split("\t")[0]: int(line.rsplit(" ", 1)[1])
            for line in printed.splitlines()
            if "\tresend from seq " in line
        }
        self.stack.api.start()
        behind = {e: before[e] - asked[e] + 1 for e in asked if before.get(e, 0) >= asked[e]}
        observed: dict[str, Any] = {"resend_from": asked, "seqs_behind": behind}
        # The service sends each exhibit its restore request once it is connected.
        unsent = self._await_requests_sent(before)
        if unsent:
            return {**observed, **self._fail(event, f"resend requests not sent: {unsent}")}
        self._await_links(self.scenario.exhibit_defs())
        if not behind:
            return {
                **observed,
                **self._fail(event, "the restore took nothing back: nothing was proved"),
            }
        return observed

    def _await_requests_sent(self, exhibits: Iterable[str]) -> list[str]:
        deadline = time.monotonic() + CHECK_TIMEOUT_S
        waiting = sorted(exhibits)
        while waiting and time.monotonic() < deadline:
            with contextlib.suppress(FleetApiError):  # the API is still starting
                waiting = [e for e in waiting if not self._restore_request_sent(e)]
            if waiting:
                time.sleep(0.2)
        return waiting

    def _restore_request_sent(self, exhibit_id: str) -> bool:
        requests = self.stack.client.resend_requests(exhibit_id)
        return any(r["reason"] == "restore" and r["sent_at"] for r in requests)

    def _fleet_api(self, *argv: str) -> str:
        """Run ``python -m fleet_api ARGV`` with the API's settings; its standard output.

        FleetApiError if it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "fleet_api", *argv],
            env=self.stack.api.environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise FleetApiError(f"fleet-api {' '.join(argv)} failed: {done.stderr.strip()}")
        return done.stdout
