"""Which simulated exhibit runs in which host process, and each exhibit's boots.

An exhibit that a fault powers off or reboots gets a host of its own (a power cut is
``kill -9`` of its process); the others share hosts of up to ``GROUP_SIZE``. Every boot
has its own id and a clock that may be behind and unsynced. Each exhibit's Pi has its
own identity files under ``work_dir/machines/<id>``; a clone is the same data directory
content on a Pi with another machine-id.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from device.ops.identity import IDENTITY_FILE
from simulator.errors import HostError
from simulator.host_protocol import ExhibitBoot, HostConfig, epoch
from simulator.hosts import ExhibitHost
from simulator.netfault import PartitionProxy
from simulator.plan import PlannedTouch
from simulator.scenario import Scenario
from simulator.scenario_controller import agent_controller
from simulator.scenario_faults import REBOOTING

GROUP_SIZE = 10
MAX_STEPS = 2_000
"""Touches per request: keeps lines short and the progress bar moving."""
REQUEST_TIMEOUT_S = 60.0

Done = Callable[[list[PlannedTouch]], None]


class Hosting:
    """The host processes of a scenario's exhibits (see the module docstring)."""

    def __init__(
        self, scenario: Scenario, work_dir: Path, broker_url: Callable[[str], str]
    ) -> None:
        self.scenario = scenario
        self.work_dir = work_dir
        self._broker_url = broker_url
        self._nonce = secrets.token_hex(3)
        self._defs = scenario.exhibit_defs()
        self._boots: dict[str, int] = dict.fromkeys(self._defs, 0)
        self.boot_ids: dict[str, str] = {}
        self._host_of: dict[str, ExhibitHost] = {}
        self._host_count = 0
        self.assigned: dict[str, int | None] = dict.fromkeys(self._defs)
        """The visit the fleet has each exhibit checked out to (what it hears once it can)."""
        self.pushed: dict[str, tuple[int, bool]] = {}
        """The newest configuration version the fleet pushed to each exhibit, and ``force``."""
        rebooted = {f.exhibit for f in scenario.faults if isinstance(f, REBOOTING)}
        shared = [e for e in self._defs if e not in rebooted]
        self.groups = [[e] for e in self._defs if e in rebooted] + [
            shared[i : i + GROUP_SIZE] for i in range(0, len(shared), GROUP_SIZE)
        ]

    # -- boots -------------------------------------------------------------------------

    def boot(
        self,
        exhibit_id: str,
        at: datetime,
        *,
        offset: timedelta = timedelta(0),
        clone: bool = False,
    ) -> ExhibitBoot:
        """The next boot of ``exhibit_id`` at true time ``at``, its clock ``offset`` from true."""
        self._boots[exhibit_id] += 1
        suffix = "clone" if clone else ""
        boot_id = f"{exhibit_id[:40]}-{self._nonce}-{suffix}{self._boots[exhibit_id]}"
        machine = self.work_dir / "machines" / f"{exhibit_id}{'-clone' if clone else ''}"
        if not (machine / "machine-id").exists():
            machine.mkdir(parents=True, exist_ok=True)
            (machine / "machine-id").write_text(secrets.token_hex(16) + "\n")
        definition = self._defs[exhibit_id]
        tuning = self.scenario.agent
        if not clone:
            self.boot_ids[exhibit_id] = boot_id
        return ExhibitBoot(
            exhibit_id=exhibit_id,
            data_dir=self.data_dir(exhibit_id, clone=clone),
            machine_dir=machine,
            broker_url=self._broker_url(exhibit_id),
            inputs=definition.inputs,
            bucket_seconds=tuning.bucket_seconds,
            session_idle_s=tuning.session_idle_s,
            heartbeat_seconds=tuning.heartbeat_seconds,
            boot_id=boot_id,
            true_now=at,
            skew_s=offset.total_seconds(),
            synced=not offset,
            keepalive_s=tuning.keepalive_s,
            signals=self.scenario.signals,
            seed=self.scenario.seed,
            controller=agent_controller(definition.inputs, definition.controller),
        )

    def data_dir(self, exhibit_id: str, *, clone: bool = False) -> Path:
        """Where an exhibit's agent keeps its outbox and identity."""
        return self.work_dir / "agents" / (f"{exhibit_id}-clone" if clone else exhibit_id)

    def _new_host(self, boots: list[ExhibitBoot]) -> ExhibitHost:
        self._host_count += 1
        name = f"host-{self._host_count:02d}"
        config = HostConfig(exhibits=boots, timezone=self.scenario.timezone)
        return ExhibitHost(name, config, self.work_dir / "hosts")

    def start_all(self, at: datetime) -> None:
        """Boot every exhibit at ``at`` (clocks synced), host processes in parallel."""
        hosts = [self._new_host([self.boot(e, at) for e in group]) for group in self.groups]
        try:
            for host in hosts:
                host.spawn()
            for host in hosts:
                first = host.first_word()
                if first.get("event") != "ready":
                    raise HostError(f"{host.name} did not start: {first}")
                for exhibit_id in host.exhibit_ids:
                    self._host_of[exhibit_id] = host
        except BaseException:
            for host in hosts:
                host.kill()  # leave no agent behind
            self._host_of.clear()
            raise

    def start_one(self, exhibit_id: str, at: datetime, *, offset: timedelta) -> None:
        """Boot a dedicated exhibit again (after a power cut or a clean shutdown)."""
        host = self._new_host([self.boot(exhibit_id, at, offset=offset)])
        try:
            first = host.start()
            if first.get("event") != "ready":
                raise HostError(f"{exhibit_id} did not boot again: {first}")
        except BaseException:
            host.kill()
            raise
        self._host_of[exhibit_id] = host

    def host(self, exhibit_id: str) -> ExhibitHost:
        """The live host of ``exhibit_id``; HostError if it has no power."""
        host = self._host_of.get(exhibit_id)
        if host is None:
            raise HostError(f"{exhibit_id} has no power")
        return host

    def powered(self, exhibit_id: str) -> bool:
        """Whether ``exhibit_id`` is running (not in a power cut)."""
        return exhibit_id in self._host_of

    def reachable(self, exhibit_id: str, proxies: dict[str, PartitionProxy]) -> bool:
        """Whether ``exhibit_id`` has power and its link (if it has a proxy) is up."""
        proxy = proxies.get(exhibit_id)
        return self.powered(exhibit_id) and not (proxy is not None and proxy.is_cut)

    def live_hosts(self) -> list[ExhibitHost]:
        """Every host process currently running, once each."""
        return list({id(h): h for h in self._host_of.values()}.values())

    def due_config(self, exhibit_id: str) -> int | None:
        """The configuration version ``exhibit_id`` runs once it can hear the fleet: the
        newest pushed, unless that one waits for the exhibit's visit to end (None then, and
        when nothing was pushed)."""
        pushed = self.pushed.get(exhibit_id)
        if pushed is None:
            return None
        version, force = pushed
        return version if force or self.assigned.get(exhibit_id) is None else None

    # -- driving -----------------------------------------------------------------------

    def run(self, touches: list[PlannedTouch], until: datetime, done: Done) -> None:
        """Make ``touches`` (all before ``until``) and move every live clock to ``until``.

        Hosts work in parallel; ``done`` hears each request's touches once recorded.
        """
        pending: dict[int, tuple[ExhibitHost, list[PlannedTouch]]] = {
            id(h): (h, []) for h in self.live_hosts()
        }
        for touch in touches:
            host = self.host(touch.exhibit_id)
            pending[id(host)][1].append(touch)
        while pending:
            sent: list[tuple[ExhibitHost, list[PlannedTouch]]] = []
            for key, (host, steps) in list(pending.items()):
                batch, rest = steps[:MAX_STEPS], steps[MAX_STEPS:]
                end = until if not rest else batch[-1].at
                host.send(
                    {
                        "op": "run",
                        "steps": [[t.exhibit_id, epoch(t.at), t.input] for t in batch],
                        "until": epoch(end),
                        "timeout": REQUEST_TIMEOUT_S,
                    }
                )
                sent.append((host, batch))
                if rest:
                    pending[key] = (host, rest)
                else:
                    del pending[key]
            for host, batch in sent:
                reply = host.receive(REQUEST_TIMEOUT_S + 10)
                if not reply.get("ok"):
                    raise HostError(f"{host.name}: {reply.get('error', reply)}")
                done(batch)

    def press_and_cut(self, exhibit_id: str, presses: list[PlannedTouch]) -> None:
        """Presses in the instant before a power cut (not waited for), then ``kill -9``."""
        host = self.host(exhibit_id)
        if presses:
            steps = [[t.exhibit_id, epoch(t.at), t.input] for t in presses]
            host.request(
                {"op": "run", "steps": steps, "until": epoch(presses[-1].at), "nowait": True},
                REQUEST_TIMEOUT_S,
            )
        host.kill()
        del self._host_of[exhibit_id]

    def shut_down(self, exhibit_id: str) -> None:
        """A clean shutdown of a dedicated exhibit (before a reboot)."""
        self.host(exhibit_id).stop()
        del self._host_of[exhibit_id]

    def ask(self, exhibit_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """One request to the host of ``exhibit_id`` about it."""
        return self.host(exhibit_id).request({**request, "exhibit": exhibit_id}, REQUEST_TIMEOUT_S)

    def each(
        self, request: dict[str, Any], timeout: float = REQUEST_TIMEOUT_S
    ) -> list[dict[str, Any]]:
        """The same request to every live host, in parallel; their replies."""
        hosts = self.live_hosts()
        for host in hosts:
            host.send({**request, "timeout": timeout})
        replies = [host.receive(timeout + 10) for host in hosts]
        for host, reply in zip(hosts, replies, strict=True):
            if not reply.get("ok"):
                raise HostError(f"{host.name}: {request['op']}: {reply.get('error', reply)}")
        return replies

    def depths(self) -> dict[str, int]:
        """Records waiting in each live exhibit's outbox."""
        found: dict[str, int] = {}
        for reply in self.each({"op": "status"}):
            for exhibit_id, status in reply["exhibits"].items():
                found[exhibit_id] = int(status["depth"])
        return found

    def clone(self, exhibit_id: str, at: datetime) -> tuple[dict[str, Any], int, str]:
        """Boot a copy of ``exhibit_id``'s card on another Pi: first word, exit code, boot id."""
        target = self.data_dir(exhibit_id, clone=True)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.data_dir(exhibit_id) / IDENTITY_FILE, target / IDENTITY_FILE)
        boot = self.boot(exhibit_id, at, clone=True)
        host = self._new_host([boot])
        first = host.start()
        try:
            code = host.wait_exit(REQUEST_TIMEOUT_S)
        except HostError:
            code = -1  # it runs: the clone was not refused
        host.stop()
        return first, code, boot.boot_id

    def stop_all(self, hosts: Iterable[ExhibitHost] | None = None) -> None:
        """Stop every live host cleanly (the end of a run)."""
        for host in list(hosts or self.live_hosts()):
            host.stop()
        self._host_of.clear()
