"""The scenario engine: a whole simulated period against the real broker and fleet API.

1. Start the stack (Mosquitto, the fleet API on a fresh database, partition proxies, a tap
   if a fault needs it) and register the scenario's exhibits, schools and visits.
2. Boot every exhibit at the scenario's start (clocks synced).
3. Walk the timeline: before each event, make every touch that comes before it (all hosts
   in parallel, each touch written to the ledger once its agent recorded it durably),
   then do the event: a check-out or check-in (waiting until the agents hold the
   assignment), or a fault action (:mod:`simulator.faults`).
4. At the end: heal everything, let the exhibits sit at the depot long enough for a
   heartbeat, flush every outbox, and compare the ledger with the API
   (:func:`simulator.verify.check`) until it matches or ``verify_wait_s`` runs out.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from simulator.databases import Backend, run_database
from simulator.errors import SimError
from simulator.faults import FaultInjector
from simulator.fleet_client import FleetClient, retry
from simulator.hosting import Hosting
from simulator.ledger import Ledger
from simulator.netfault import PartitionProxy
from simulator.plan import Event, PlannedTouch, build_plan
from simulator.reconcile import Verdict
from simulator.reliability import ScenarioReport
from simulator.scenario import Scenario
from simulator.scenario_checks import targets
from simulator.scenario_faults import (
    BrokerRestart,
    ClonedIdentity,
    DuplicateDelivery,
    Partition,
    WorkerKill,
)
from simulator.stack import Stack
from simulator.verify import check

Advance = Callable[[int, str], None]
"""Progress: touches just recorded, and what the simulation is at."""
Inspect = Callable[[FleetClient, Verdict], None]
"""Further checks while the fleet still runs, after the verdict on counts (the campaign's)."""
FLUSH_TIMEOUT_S = 120.0
SETTLE_STEP = timedelta(seconds=60)
SETTLE_STEPS = 240
SETTLE_PAUSE_S = 0.25
"""After the scenario: up to 4 simulated hours, a minute (the custody timeout) at a time,
each given a quarter of a real second, until every outbox is empty."""
LEDGER = "ledger.jsonl"
VISIT_ACTIONS = ("checkout", "checkin")


def register(client: FleetClient, scenario: Scenario) -> dict[int, int]:
    """Create the scenario's exhibits, schools and visits in the fleet; visit index -> id."""
    for exhibit_id in scenario.exhibit_defs():
        client.ensure_exhibit(exhibit_id, f"{exhibit_id} (simulated)")
    schools = {
        school.key: client.create_school(
            name=school.name, municipality=school.municipality, region=school.region
        )
        for school in scenario.schools
    }
    return {
        index: client.create_visit(
            school_id=schools[visit.school],
            starts_at=visit.starts_at,
            ends_at=visit.ends_at,
            exhibit_ids=visit.exhibits,
            pupils=visit.pupils,
            grades=visit.grades,
        )
        for index, visit in enumerate(scenario.visits)
    }


def fresh_work_dir(work_dir: Path) -> None:
    """An empty work directory: a run must not inherit a broker, outboxes or a database.

    A directory that holds something else than an earlier run is refused, never emptied.
    """
    if work_dir.exists() and any(work_dir.iterdir()):
        if not (work_dir / LEDGER).exists() and not (work_dir / "hosts").exists():
            raise SimError(
                f"{work_dir} is not empty and holds no earlier simulator run; choose another "
                "--work-dir"
            )
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)


class Engine:
    """One run of one scenario; ``run()`` returns its report."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        work_dir: Path,
        database: Backend = "sqlite",
        advance: Advance | None = None,
        verify_wait_s: float = 60.0,
        inspect: Inspect | None = None,
    ) -> None:
        self.scenario = scenario
        self._inspect = inspect
        self.work_dir = work_dir
        self.database = database
        self.plan = build_plan(scenario)
        self._advance = advance or (lambda n, where: None)
        self.verify_wait_s = verify_wait_s
        self.ledger_path = work_dir / LEDGER
        self.faults_path = work_dir / "faults.jsonl"
        self._visit_ids: dict[int, int] = {}

    def run(self) -> ScenarioReport:
        """Simulate, flush, verify (see the module docstring)."""
        started = time.monotonic()
        scenario = self.scenario
        fresh_work_dir(self.work_dir)
        partitioned = {
            exhibit_id
            for fault in scenario.faults
            if isinstance(fault, Partition)
            for exhibit_id in targets(fault.exhibits, scenario)
        }
        tap = any(
            isinstance(f, DuplicateDelivery | ClonedIdentity)
            or (isinstance(f, BrokerRestart) and f.during_replay)
            for f in scenario.faults
        )
        with (
            run_database(self.database, self.work_dir) as database_url,
            Stack(
                self.work_dir,
                database_url=database_url,
                partitioned=partitioned,
                tap=tap,
                workers=2 if any(isinstance(f, WorkerKill) for f in scenario.faults) else 1,
            ) as stack,
        ):
            self._visit_ids = register(stack.client, scenario)
            ledger = Ledger(self.ledger_path)
            hosting = Hosting(scenario, self.work_dir, stack.broker_url)
            faults = FaultInjector(
                scenario, stack, hosting, log_path=self.faults_path, at_risk=self._at_risk(ledger)
            )
            try:
                hosting.start_all(scenario.start)
                self._timeline(stack, hosting, faults, ledger)
                self._settle(hosting)
                if hosting.pushed:
                    faults.apply(Event(scenario.end, "configs_final"))
            finally:
                hosting.stop_all()
                ledger.close()
            self._advance(0, "verifying")
            verdict = check(self.ledger_path, stack.client, wait_s=self.verify_wait_s)
            if self._inspect is not None:
                self._inspect(stack.client, verdict)
        return ScenarioReport.of(
            scenario.name,
            self.database,
            verdict,
            faults=faults.injected,
            fault_failures=faults.failures,
            seconds=time.monotonic() - started,
            work_dir=self.work_dir,
        )

    def _recorded(self, ledger: Ledger) -> Callable[[list[PlannedTouch]], None]:
        def done(touches: list[PlannedTouch]) -> None:
            for touch in touches:
                ledger.record(
                    exhibit_id=touch.exhibit_id,
                    input=touch.input,
                    at=touch.at,
                    visit_id=self._visit_id(touch.visit),
                )
            if touches:
                self._advance(len(touches), touches[-1].at.strftime("%a %d %b %H:%M"))

        return done

    def _at_risk(self, ledger: Ledger) -> Callable[[list[PlannedTouch]], None]:
        def pressed(touches: list[PlannedTouch]) -> None:
            for touch in touches:
                ledger.record(
                    exhibit_id=touch.exhibit_id,
                    input=touch.input,
                    at=touch.at,
                    visit_id=self._visit_id(touch.visit),
                    at_risk=True,
                )

        return pressed

    def _visit_id(self, index: int | None) -> int | None:
        return None if index is None else self._visit_ids[index]

    def _timeline(
        self, stack: Stack, hosting: Hosting, faults: FaultInjector, ledger: Ledger
    ) -> None:
        touches, cursor = self.plan.touches, 0
        done = self._recorded(ledger)
        events = self.plan.events
        for index, event in enumerate(events):
            start = cursor
            while cursor < len(touches) and touches[cursor].at < event.at:
                cursor += 1
            hosting.run(touches[start:cursor], event.at, done)
            self._advance(0, f"{event.at:%a %d %b %H:%M} {event.action}")
            if event.action in VISIT_ACTIONS:
                self._visit_event(stack.client, hosting, event, stack.proxies)
            else:
                faults.apply(event, events[index + 1] if index + 1 < len(events) else None)
        hosting.run(touches[cursor:], self.scenario.end, done)

    def _visit_event(
        self,
        client: FleetClient,
        hosting: Hosting,
        event: Event,
        proxies: dict[str, PartitionProxy],
    ) -> None:
        assert event.visit is not None
        visit_id = self._visit_ids[event.visit]
        if event.action == "checkout":
            retry(lambda: client.check_out(visit_id), f"check-out of visit {visit_id}")
            expected: int | None = visit_id
        else:
            retry(lambda: client.check_in(visit_id), f"check-in of visit {visit_id}")
            expected = None
        for exhibit_id in self.scenario.visits[event.visit].exhibits:
            hosting.assigned[exhibit_id] = expected
            # Partitioned or without power, it hears of it when it reconnects (faults.py).
            if hosting.reachable(exhibit_id, proxies):
                request: dict[str, Any] = {"op": "wait", "visit": expected}
                due = hosting.due_config(exhibit_id)
                if due is not None:  # a configuration that waited for the visit to end
                    request["config"] = due
                hosting.ask(exhibit_id, request)

    def _settle(self, hosting: Hosting) -> None:
        """Back at the depot: connected, a heartbeat each (a synced reference), all flushed."""
        self._advance(0, "flushing")
        for exhibit_id in self.scenario.exhibit_defs():
            hosting.ask(exhibit_id, {"op": "wait", "connected": True})
        heartbeat = timedelta(seconds=self.scenario.agent.heartbeat_seconds)
        at = self.scenario.end + 2 * heartbeat
        hosting.run([], at, lambda touches: None)
        # Records the fleet has not confirmed go out again at the agents' custody timeout,
        # on the simulated clock: let it run, a step at a time, while the fleet catches up
        # in real time (a worker_kill's share reaches the survivor only so).
        steps = 0
        while steps < SETTLE_STEPS and any(hosting.depths().values()):
            steps += 1
            at += SETTLE_STEP
            hosting.run([], at, lambda touches: None)
            time.sleep(SETTLE_PAUSE_S)
        with self.faults_path.open("a", encoding="utf-8") as log:
            line = {"action": "settled", "sim_seconds": steps * SETTLE_STEP.total_seconds()}
            log.write(json.dumps(line) + "\n")
        hosting.each({"op": "flush"}, timeout=FLUSH_TIMEOUT_S)  # HostError if one is not empty


def run_scenario(
    scenario: Scenario,
    *,
    work_dir: Path,
    database: Backend = "sqlite",
    advance: Advance | None = None,
    verify_wait_s: float = 60.0,
) -> ScenarioReport:
    """Run ``scenario`` end to end against real components; see :class:`Engine`."""
    return Engine(
        scenario,
        work_dir=work_dir,
        database=database,
        advance=advance,
        verify_wait_s=verify_wait_s,
    ).run()
