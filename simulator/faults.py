"""Fault injection: each timeline action done to the real components, logged, and checked.

Every action appends one line to the faults log (``faults.jsonl``): simulated time, real
time, action, fault index and kind, targets, and what was observed (records ingested
when the broker went down, duplicates the fleet counted, a clone's exit code). A fault
whose own check fails (a clone that started, duplicates not absorbed, a broker restart
that missed the replay) is recorded in ``failures``; the run goes on and the failure
fails it at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulator.controller_actions import ControllerActions
from simulator.errors import FleetApiError
from simulator.host_protocol import EXIT_IDENTITY
from simulator.hosting import Hosting
from simulator.plan import Event, PlannedTouch, gesture_gap, true_visit
from simulator.scenario import Scenario
from simulator.scenario_faults import ApiRestart, BrokerRestart, DuplicateDelivery, Partition
from simulator.server_faults import ServerFaults
from simulator.stack import Stack

IN_FLIGHT_GAP = timedelta(milliseconds=200)
"""Between the presses in the instant before a power cut, at least (longer when one press,
bounce and the agent's release debounce included, takes longer: ``plan.gesture_gap``)."""
CHECK_TIMEOUT_S = 30.0
POLL_S = 0.01
STARTS = {
    "partition_cut",
    "power_cut",
    "reboot",
    "clock_jump",
    "broker_stop",
    "api_stop",
    "duplicate",
    "clone",
    "broker_kill",
    "server_kill",
    "worker_kill",
    "restore",
}
"""The action that injects each fault (the others end it or follow it)."""


class FaultInjector:
    """Does the timeline's fault actions (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        stack: Stack,
        hosting: Hosting,
        *,
        log_path: Path,
        at_risk: Callable[[list[PlannedTouch]], None],
    ) -> None:
        self.scenario = scenario
        self.stack = stack
        self.hosting = hosting
        self.log_path = log_path
        self._at_risk = at_risk
        self._injected: set[int] = set()
        self.failures: list[str] = []
        self._replay_mark: int | None = None  # count batches the tap had seen at a restore
        self._upcoming: Event | None = None
        self.controller = ControllerActions(scenario, stack, hosting, self._fail)
        self._handlers: dict[str, Callable[[Event], dict[str, Any]]] = {
            "partition_cut": self._partition_cut,
            "partition_restore": self._partition_restore,
            "power_cut": self._power_cut,
            "power_on": self._power_on,
            "reboot": self._reboot,
            "clock_jump": self._clock_jump,
            "clock_sync": self._clock_sync,
            "broker_stop": self._broker_stop,
            "broker_start": self._broker_start,
            "api_stop": self._api_stop,
            "api_start": self._api_start,
            "duplicate": self._duplicate,
            "clone": self._clone,
            **ServerFaults(
                scenario, stack, await_links=self._await_links, fail=self._fail
            ).handlers(),
            **self.controller.handlers(),
            "configs_final": self.controller.finish,
        }

    @property
    def injected(self) -> int:
        """How many of the scenario's faults have been injected (a chain of boots is one)."""
        return len(self._injected)

    def apply(self, event: Event, upcoming: Event | None = None) -> None:
        """Do ``event`` now and log it; ``upcoming`` is the timeline's next event, if any."""
        self._upcoming = upcoming
        observed = self._handlers[event.action](event)
        if event.action in STARTS and event.fault is not None:
            self._injected.add(event.fault)
        kind = self.scenario.faults[event.fault].kind if event.fault is not None else None
        line = {
            "sim_time": event.at.isoformat(),
            "real_time": datetime.now(UTC).isoformat(),
            "action": event.action,
            "fault": event.fault,
            "kind": kind,
            "exhibits": list(event.exhibits),
            **observed,
        }
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")

    def _await_links(self, exhibits: Iterable[str], *, drained: bool = True) -> None:
        """Wait until the reachable ``exhibits`` are connected (and have delivered everything).

        A link heals in seconds and a backlog of days goes out in seconds more, while the
        simulated clock would be minutes on by the next event: wait for that real time,
        so the simulation does not outrun the network it simulates. A check-out or check-in
        made while the exhibit could not hear it reaches it now: wait for that too.
        """
        for exhibit_id in exhibits:
            if self.hosting.reachable(exhibit_id, self.stack.proxies):
                request = {"op": "wait", "connected": True, "drained": drained}
                request["visit"] = self.hosting.assigned.get(exhibit_id)
                due = self.hosting.due_config(exhibit_id)
                if due is not None:  # pushed while it waited for its visit to end
                    request["config"] = due
                self.hosting.ask(exhibit_id, request)

    def _replay_watched(self) -> bool:
        """Whether the next event stops the broker in the middle of this replay."""
        upcoming = self._upcoming
        if upcoming is None or upcoming.action != "broker_stop" or upcoming.fault is None:
            return False
        fault = self.scenario.faults[upcoming.fault]
        return isinstance(fault, BrokerRestart) and fault.during_replay

    def _fail(self, event: Event, message: str) -> dict[str, Any]:
        self.failures.append(f"{event.action} at {event.at.isoformat()}: {message}")
        return {"failed": message}

    # -- network ---------------------------------------------------------------------

    def _partition_cut(self, event: Event) -> dict[str, Any]:
        fault = self.scenario.faults[event.fault or 0]
        assert isinstance(fault, Partition)
        for exhibit_id in event.exhibits:
            proxy = self.stack.proxies[exhibit_id]
            if fault.how == "black_hole":
                proxy.black_hole()
            else:
                proxy.cut()
        return {"how": fault.how}

    def _partition_restore(self, event: Event) -> dict[str, Any]:
        backlog = sum(d for e, d in self.hosting.depths().items() if e in event.exhibits)
        if self.stack.tap is not None:
            self._replay_mark = self.stack.tap.count_batches
        # Connections that died in a black hole (keepalive found out) before it healed.
        closed = sum(self.stack.proxies[e].closed_in_black_hole for e in event.exhibits)
        for exhibit_id in event.exhibits:
            self.stack.proxies[exhibit_id].restore()
        self._await_links(event.exhibits, drained=not self._replay_watched())
        return {"backlog_records": backlog, "closed_in_black_hole": closed}

    # -- power and clocks ------------------------------------------------------------

    def _power_cut(self, event: Event) -> dict[str, Any]:
        (exhibit_id,) = event.exhibits
        first = self.scenario.exhibit_defs()[exhibit_id].inputs[0]
        name = first.count_names()[0]
        gap = max(IN_FLIGHT_GAP, gesture_gap(self.scenario, first.kind))
        presses = [
            PlannedTouch(
                at := event.at + n * gap,
                exhibit_id,
                name,
                true_visit(self.scenario, exhibit_id, at),
            )
            for n in range(event.in_flight)
        ]
        self.hosting.press_and_cut(exhibit_id, presses)
        self._at_risk(presses)
        return {"in_flight": len(presses)}

    def _power_on(self, event: Event) -> dict[str, Any]:
        (exhibit_id,) = event.exhibits
        self.hosting.start_one(exhibit_id, event.at, offset=event.offset)
        self._await_links([exhibit_id])
        return {"boot_id": self.hosting.boot_ids[exhibit_id], "offset_s": _seconds(event.offset)}

    def _reboot(self, event: Event) -> dict[str, Any]:
        (exhibit_id,) = event.exhibits
        self.hosting.shut_down(exhibit_id)
        self.hosting.start_one(exhibit_id, event.at, offset=event.offset)
        self._await_links([exhibit_id])
        return {"boot_id": self.hosting.boot_ids[exhibit_id], "offset_s": _seconds(event.offset)}

    def _clock_jump(self, event: Event) -> dict[str, Any]:
        (exhibit_id,) = event.exhibits
        self.hosting.ask(exhibit_id, {"op": "jump", "by": _seconds(event.offset)})
        return {"by_s": _seconds(event.offset)}

    def _clock_sync(self, event: Event) -> dict[str, Any]:
        (exhibit_id,) = event.exhibits
        self.hosting.ask(exhibit_id, {"op": "sync"})
        return {}

    # -- broker and fleet API ----------------------------------------------------------

    def _received(self) -> int | None:
        try:
            return int(self.stack.client.ingest_stats()["records_received"])
        except FleetApiError:
            return None  # the API is down: nothing to compare with

    def _broker_stop(self, event: Event) -> dict[str, Any]:
        fault = self.scenario.faults[event.fault or 0]
        assert isinstance(fault, BrokerRestart)
        if not fault.during_replay:
            self.stack.broker.stop()
            return {}
        tap, mark = self.stack.tap, self._replay_mark
        if tap is None or mark is None:
            self.stack.broker.stop()
            return self._fail(event, "during_replay needs a partition restored just before it")
        # Stop the broker the moment the first backlog batch reaches it: the rest of the
        # backlog is then in flight from the agents or queued for the fleet.
        reached = tap.wait_count_batches(mark, CHECK_TIMEOUT_S)
        self.stack.broker.stop()
        observed: dict[str, Any] = {
            "batches_at_broker_before_stop": tap.count_batches - mark,
            "records_still_on_exhibits": sum(self.hosting.depths().values()),
            "fleet_received_since_start": self._received(),
        }
        if not reached:
            return {**observed, **self._fail(event, "the replay never reached the broker")}
        return observed

    def _broker_start(self, event: Event) -> dict[str, Any]:
        self.stack.broker.start()
        self.stack.api.wait_ready(CHECK_TIMEOUT_S)  # ingestion connected again
        self._await_links(self.scenario.exhibit_defs())
        return {}

    def _api_stop(self, event: Event) -> dict[str, Any]:
        fault = self.scenario.faults[event.fault or 0]
        assert isinstance(fault, ApiRestart)
        self.stack.api.stop(hard=fault.hard)
        return {"signal": "SIGKILL" if fault.hard else "SIGTERM"}

    def _api_start(self, event: Event) -> dict[str, Any]:
        self.stack.api.start()
        return {}

    # -- messages and identities ------------------------------------------------------

    def _duplicate(self, event: Event) -> dict[str, Any]:
        fault = self.scenario.faults[event.fault or 0]
        assert isinstance(fault, DuplicateDelivery)
        tap = self.stack.tap
        assert tap is not None, "the engine starts a tap for duplicate delivery"
        batches = []
        for exhibit_id in event.exhibits:
            own = tap.batches(exhibit_id)
            batches += own[-fault.batches :] if fault.batches else own
        records = sum(len(json.loads(b.payload)["records"]) for b in batches)
        before = int(self.stack.client.ingest_stats()["records_duplicate"])
        tap.republish(batches)
        deadline = time.monotonic() + CHECK_TIMEOUT_S
        counted = 0
        while time.monotonic() < deadline:
            counted = int(self.stack.client.ingest_stats()["records_duplicate"]) - before
            if counted >= records:
                break
            time.sleep(POLL_S * 5)
        observed = {"batches": len(batches), "records": records, "duplicates_counted": counted}
        if counted < records:
            return {
                **observed,
                **self._fail(event, f"only {counted} of {records} seen as duplicates"),
            }
        return observed

    def _clone(self, event: Event) -> dict[str, Any]:
        (exhibit_id,) = event.exhibits
        first, code, boot_id = self.hosting.clone(exhibit_id, event.at)
        observed: dict[str, Any] = {"exit_code": code, "clone_boot_id": boot_id}
        if first.get("event") != "identity_mismatch" or code != EXIT_IDENTITY:
            return {**observed, **self._fail(event, f"the clone was not refused: {first}")}
        tap = self.stack.tap
        if tap is not None and tap.mentions(boot_id):
            return {**observed, **self._fail(event, "a message of the clone reached the broker")}
        return observed


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()
