"""``python -m simulator.exhibit_process CONFIG``: a host process of simulated exhibits.

Runs the agents of a :class:`simulator.host_protocol.HostConfig` and answers the
coordinator's requests, one JSON line each way (the protocol is in
:mod:`simulator.host_protocol`). It is a process of its own so that a power cut can be
what it is on a Pi: ``kill -9``, with whatever the agent had not committed lost.

The protocol owns the original stdout; anything a library prints goes to stderr (the
host's log file), never into the protocol.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from device.core.errors import IdentityMismatch
from simulator.host_protocol import EXIT_IDENTITY, HostConfig, from_epoch
from simulator.sim_exhibit import SimExhibit

log = logging.getLogger("simulator.exhibit_process")

DEFAULT_TIMEOUT_S = 30.0
POLL_S = 0.01


class Host:
    """The exhibits of one host process and the requests they answer."""

    def __init__(self, exhibits: list[SimExhibit]) -> None:
        self.exhibits = {exhibit.exhibit_id: exhibit for exhibit in exhibits}
        self.handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "run": self.run,
            "sync": self.sync,
            "jump": self.jump,
            "wait": self.wait,
            "flush": self.flush,
            "status": self.status,
            "outputs": self.outputs,
        }

    def rebuild(self) -> None:
        """Rebuild every agent that applied a pushed configuration (between requests)."""
        for exhibit in self.exhibits.values():
            exhibit.rebuild_if_asked()

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Make the steps' interactions on the simulated clocks, then wait until recorded."""
        for exhibit_id, at, count_name in request.get("steps", []):
            self.exhibits[exhibit_id].rebuild_if_asked()
            self.exhibits[exhibit_id].touch(
                count_name, from_epoch(at), catch_up=not request.get("nowait")
            )
        until = from_epoch(request["until"])
        for exhibit in self.exhibits.values():
            if until > exhibit.clock.true_now:
                if not request.get("nowait"):
                    exhibit.catch_up(until)
                exhibit.clock.advance_to(until)
        if not request.get("nowait"):
            timeout = request.get("timeout", DEFAULT_TIMEOUT_S)
            for exhibit in self.exhibits.values():
                if not exhibit.agent.wait_recorded(timeout):
                    return {"ok": False, "error": f"{exhibit.exhibit_id} did not record in time"}
                exhibit.recorded()
        return {"ok": True, "done": len(request.get("steps", []))}

    def sync(self, request: dict[str, Any]) -> dict[str, Any]:
        """NTP arrives for one exhibit; answer once its agent has noticed (it polls)."""
        exhibit = self.exhibits[request["exhibit"]]
        exhibit.clock.sync()
        return self._until(lambda: exhibit.agent.clock_synced, request, "seeing the clock synced")

    def jump(self, request: dict[str, Any]) -> dict[str, Any]:
        """The wall clock of one exhibit jumps; answer once its agent has seen it unsynced."""
        exhibit = self.exhibits[request["exhibit"]]
        exhibit.clock.jump(timedelta(seconds=float(request["by"])))
        return self._until(lambda: not exhibit.agent.clock_synced, request, "seeing the jump")

    def wait(self, request: dict[str, Any]) -> dict[str, Any]:
        """Until the agent holds the visit, is connected, has delivered everything (as asked)."""
        exhibit = self.exhibits[request["exhibit"]]

        def reached() -> bool:
            exhibit.rebuild_if_asked()
            agent = exhibit.agent
            settings = exhibit.settings
            if "config" in request and settings.config_version != request["config"]:
                return False
            if "config_hash" in request and settings.pushed_config_hash != request["config_hash"]:
                return False
            if "visit" in request and agent.visit_id != request["visit"]:
                return False
            if request.get("drained") and agent.outbox_depth() > 0:
                return False
            return not request.get("connected") or agent.wait_connected(0)

        return self._until(reached, request, f"reaching {request}")

    def flush(self, request: dict[str, Any]) -> dict[str, Any]:
        """Seal everything and wait for the broker's PUBACKs, every exhibit."""
        timeout = request.get("timeout", DEFAULT_TIMEOUT_S)
        done = {e.exhibit_id: e.agent.flush(timeout) for e in self.exhibits.values()}
        depth = {e.exhibit_id: e.agent.outbox_depth() for e in self.exhibits.values()}
        return {"ok": all(done.values()), "depth": depth}

    def outputs(self, request: dict[str, Any]) -> dict[str, Any]:
        """What the outputs of one exhibit do now (see ``SimExhibit.outputs``)."""
        exhibit = self.exhibits[request["exhibit"]]
        states = exhibit.outputs(request.get("timeout", DEFAULT_TIMEOUT_S))
        return {"ok": True, "outputs": states, "config_version": exhibit.settings.config_version}

    def status(self, request: dict[str, Any]) -> dict[str, Any]:
        """Link, outbox depth, assignment, clock and failure of each exhibit."""
        return {"ok": True, "exhibits": {i: e.status() for i, e in self.exhibits.items()}}

    def stop(self) -> None:
        """Stop every agent cleanly."""
        for exhibit in self.exhibits.values():
            exhibit.stop()

    @staticmethod
    def _until(condition: Callable[[], bool], request: dict[str, Any], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + request.get("timeout", DEFAULT_TIMEOUT_S)
        while not condition():
            if time.monotonic() >= deadline:
                return {"ok": False, "error": f"timed out {what}"}
            time.sleep(POLL_S)  # the agent exposes state, not an event, for these
        return {"ok": True}


def _reply(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def serve(config: HostConfig, out: IO[str], requests: IO[str]) -> int:
    """Start the agents, answer requests until ``stop`` or end of input; the exit code."""
    exhibits = [SimExhibit(boot) for boot in config.exhibits]
    started: list[SimExhibit] = []
    try:
        for exhibit in exhibits:
            exhibit.start()
            started.append(exhibit)
    except IdentityMismatch as exc:
        log.error("%s", exc)
        _reply(out, {"event": "identity_mismatch", "detail": str(exc)})
        for exhibit in started:
            exhibit.stop()
        return EXIT_IDENTITY
    host = Host(exhibits)
    _reply(out, {"event": "ready", "pid": os.getpid()})
    for line in requests:
        request = json.loads(line)
        op = request.get("op")
        if op == "stop":
            host.stop()
            _reply(out, {"ok": True})
            return 0
        handler = host.handlers.get(op)
        try:
            host.rebuild()
            reply = handler(request) if handler else {"ok": False, "error": f"unknown op {op!r}"}
        except Exception as exc:
            log.exception("request %s failed", op)
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        _reply(out, reply)
    host.stop()  # the coordinator went away
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m simulator.exhibit_process CONFIG.json``."""
    args = sys.argv[1:] if argv is None else argv
    config = HostConfig.model_validate_json(Path(args[0]).read_text())
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
    )
    # The protocol keeps the real stdout; fd 1 becomes stderr for everyone else.
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    return serve(config, out, sys.stdin)


if __name__ == "__main__":
    sys.exit(main())
