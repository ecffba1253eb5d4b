"""The timeline's controller actions: configuration pushes and output checks.

``config_push``: for each exhibit, ``PUT /exhibits/{id}/config`` through the real fleet
API with the exhibit's inputs (as wired) and the push's controller. The agent hears it
retained over the real broker. If it holds a visit and the push is not ``force``d, the
fleet must then say ``waiting`` (the exhibit reported it); otherwise the exhibit's host
waits until its agent has been rebuilt on the new version (as ``exhibit-agent run``
does) and the fleet must say ``applied``. A version that waits is applied once the
visit is checked in: the engine's wait after the check-in includes it
(``Hosting.due_config``), and ``finish`` checks the fleet's word at the end. A newest
push that a database restore erased (pushed after the backup it restored) is run on by the
exhibit, and the fleet must say so honestly: ``unknown_version`` in its health.

``output_check``: the exhibit's host moves nothing; it waits until the agent has handled
every touch and the behaviour engine has caught up with the clock, and reads every
output (``OutputBank.state``); each expected state is judged
(``simulator.scenario_controller.judge``). A difference is a failure of the run, with the
exhibit, the output, what was expected and what was found.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from broker.exhibit_config import config_hash
from simulator.errors import HostError
from simulator.fleet_client import retry
from simulator.hosting import Hosting
from simulator.plan import Event
from simulator.scenario import Scenario
from simulator.scenario_checks import targets
from simulator.scenario_controller import document, judge
from simulator.scenario_faults import DatabaseRestore
from simulator.stack import Stack

Fail = Callable[[Event, str], dict[str, Any]]
REPORT_WAIT_S = 30.0
"""Real seconds for an exhibit's answer to reach the fleet (it goes through its outbox)."""
POLL_S = 0.1


class ControllerActions:
    """Pushes configurations and checks outputs (see the module docstring)."""

    def __init__(self, scenario: Scenario, stack: Stack, hosting: Hosting, fail: Fail) -> None:
        self.scenario = scenario
        self.stack = stack
        self.hosting = hosting
        self._fail = fail
        self._hashes: dict[str, str] = {}  # of the newest document pushed to each exhibit

    def handlers(self) -> dict[str, Callable[[Event], dict[str, Any]]]:
        """The timeline actions this class does, for ``FaultInjector``."""
        return {"config_push": self._push, "output_check": self._check}

    def _push(self, event: Event) -> dict[str, Any]:
        assert event.item is not None
        push = self.scenario.configs[event.item]
        defs = self.scenario.exhibit_defs()
        observed: dict[str, Any] = {}
        for exhibit_id in event.exhibits:
            body = document(defs[exhibit_id].inputs, push.controller)
            version = self._put(exhibit_id, body, force=push.force)
            self.hosting.pushed[exhibit_id] = (version, push.force)
            self._hashes[exhibit_id] = config_hash(body)
            observed[exhibit_id] = self._answered(event, exhibit_id, version, wait=True)
        return {"pushed": observed}

    def _answered(
        self, event: Event, exhibit_id: str, version: int, *, wait: bool
    ) -> dict[str, Any]:
        """The exhibit runs ``version`` if it is due (waited for if ``wait``), and the fleet
        says ``applied``, or ``waiting`` while the version waits for a visit to end."""
        due = self.hosting.due_config(exhibit_id) == version
        if due and wait and not self._runs(event, exhibit_id, version, self._hashes[exhibit_id]):
            return {"version": version, "runs": False}
        expected = "applied" if due else "waiting"
        outcome = self.fleet_says(exhibit_id, version, expected)
        if outcome != expected:
            message = (
                f"{exhibit_id} version {version}: the fleet says {outcome}, expected {expected}"
            )
            self._fail(event, message)
        return {"version": version, "outcome": outcome}

    def _lost_by_restore(self, exhibit_id: str) -> bool:
        """Whether the newest push to ``exhibit_id`` came after a backup that the fleet's
        database was then restored from: the fleet has no record of it."""
        pushes = [
            p.at for p in self.scenario.configs if exhibit_id in targets(p.exhibits, self.scenario)
        ]
        newest = max(pushes)
        return any(
            isinstance(f, DatabaseRestore) and f.backup_at <= newest < f.at
            for f in self.scenario.faults
        )

    def _unknown(
        self, event: Event, exhibit_id: str, version: int, *, wait: bool
    ) -> dict[str, Any]:
        """A version the restore erased: the exhibit runs it on, and the fleet says it runs a
        version it cannot show (``unknown_version``), never that it matches."""
        if wait and not self._runs(event, exhibit_id, version, self._hashes[exhibit_id]):
            return {"version": version, "runs": False}
        health = self.stack.client.exhibit_health
        state = _eventually(lambda: health(exhibit_id).get("config"), "unknown_version")
        if state != "unknown_version":
            self._fail(
                event,
                f"{exhibit_id} runs version {version}, lost by the restore: the "
                f"fleet's health says {state}, expected unknown_version",
            )
        return {"version": version, "lost_by_restore": True, "health": state}

    def _runs(self, event: Event, exhibit_id: str, version: int, hash_: str) -> bool:
        """Wait until the exhibit runs ``version`` of this document (its hash: the same
        number with another document is not it); a failure of the run if it does not."""
        try:
            self.hosting.ask(exhibit_id, {"op": "wait", "config": version, "config_hash": hash_})
        except HostError as exc:
            self._fail(event, f"{exhibit_id} does not run version {version} ({hash_}): {exc}")
            return False
        return True

    def _put(self, exhibit_id: str, body: dict[str, Any], *, force: bool) -> int:
        client = self.stack.client
        return retry(
            lambda: client.push_config(exhibit_id, body, force=force),
            f"configuration for {exhibit_id}",
        )

    def fleet_says(self, exhibit_id: str, version: int, expected: str) -> str | None:
        """What the fleet's history says the exhibit reported of ``version``, once it says
        ``expected`` or ``REPORT_WAIT_S`` ran out (then the last word, None: nothing)."""

        def said() -> str | None:
            history = self.stack.client.config_history(exhibit_id)
            return next((i.get("outcome") for i in history if i["version"] == version), None)

        return _eventually(said, expected)

    def _check(self, event: Event) -> dict[str, Any]:
        assert event.item is not None
        check = self.scenario.output_checks[event.item]
        observed: dict[str, Any] = {}
        failed: list[str] = []
        for exhibit_id in event.exhibits:
            reply = self.hosting.ask(exhibit_id, {"op": "outputs"})
            states: dict[str, Any] = reply["outputs"]
            running = reply.get("config_version")
            observed[exhibit_id] = {
                "config_version": running,
                **{name: states.get(name) for name in check.outputs},
            }
            if check.config_version is not None and running != check.config_version:
                failed.append(f"{exhibit_id} runs version {running}, not {check.config_version}")
            for name, expected in check.outputs.items():
                difference = judge(name, expected, states.get(name))
                if difference is not None:
                    failed.append(f"{exhibit_id} {difference}")
        for message in failed:
            self._fail(event, message)
        return {"why": check.why, "outputs": observed, **({"failed": failed} if failed else {})}

    def finish(self, event: Event) -> dict[str, Any]:
        """At the end: each exhibit pushed to runs the version it should, and the fleet says
        so (``applied``; ``waiting`` for one still in a visit that was not forced)."""
        observed: dict[str, Any] = {}
        for exhibit_id, (version, _force) in sorted(self.hosting.pushed.items()):
            powered = self.hosting.powered(exhibit_id)
            if self._lost_by_restore(exhibit_id):
                observed[exhibit_id] = self._unknown(event, exhibit_id, version, wait=powered)
                continue
            observed[exhibit_id] = self._answered(event, exhibit_id, version, wait=powered)
        return {"configs": observed}


def _eventually(read: Callable[[], str | None], wanted: str) -> str | None:
    """``read()`` until it gives ``wanted`` or ``REPORT_WAIT_S`` ran out; its last value."""
    deadline = time.monotonic() + REPORT_WAIT_S
    while True:
        found = read()
        if found == wanted or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_S)
