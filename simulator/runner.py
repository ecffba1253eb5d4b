"""``exhibit-sim run``: N real agents, seeded visitors, a ground-truth ledger."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator.exhibits import SimulatedExhibit
from simulator.fleet_client import FleetClient
from simulator.ledger import Ledger
from simulator.visitors import Touch, script

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class RunConfig:
    """What one simulated run does."""

    api_url: str
    broker_url: str
    exhibits: int
    seed: int
    duration_s: float
    ledger_path: Path
    data_dir: Path
    bucket_seconds: float = 5.0
    mean_gap_s: float = 1.0
    visit_id: int | None = None
    flush_timeout_s: float = 60.0
    exhibit_prefix: str = "sim"
    token: str | None = None
    """The fleet API token: it registers exhibits and schedules a visit (admin, say)."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did: the visit it counted for and how many interactions it performed."""

    visit_id: int
    exhibit_ids: list[str]
    interactions: int
    flushed: bool


def exhibit_ids(count: int, prefix: str = "sim") -> list[str]:
    """Ids of the simulated exhibits: ``sim-001`` ..."""
    return [f"{prefix}-{n:03d}" for n in range(1, count + 1)]


def register(client: FleetClient, ids: list[str], *, duration_s: float) -> int:
    """Register the exhibits and schedule a visit covering the whole run; return its id."""
    for exhibit_id in ids:
        client.ensure_exhibit(exhibit_id, f"Simulated exhibit {exhibit_id}")
    school_id = client.create_school(
        name="Simulated School", municipality="Rēzekne", region="Latgale"
    )
    now = datetime.now(UTC)
    return client.create_visit(
        school_id=school_id,
        starts_at=now - timedelta(minutes=10),
        ends_at=now + timedelta(seconds=duration_s) + timedelta(minutes=30),
        exhibit_ids=ids,
    )


def wait_assigned(exhibits: list[SimulatedExhibit], visit_id: int, *, timeout_s: float) -> bool:
    """Wait until every exhibit holds the visit's assignment (its retained check-out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(exhibit.agent.visit_id == visit_id for exhibit in exhibits):
            return True
        time.sleep(0.05)
    return False


def perform(
    touches: list[Touch],
    exhibits: dict[str, SimulatedExhibit],
    ledger: Ledger,
    *,
    visit_id: int,
    stop: threading.Event,
    progress: Progress | None = None,
) -> int:
    """Carry out the script, one thread per exhibit; record each touch in the ledger."""
    start = time.monotonic()
    done = 0
    lock = threading.Lock()

    def visitor(exhibit: SimulatedExhibit, own: list[Touch]) -> None:
        nonlocal done
        for touch in own:
            if stop.wait(max(0.0, start + touch.at - time.monotonic())):
                return
            at = datetime.now(UTC)
            exhibit.touch(touch.input)
            ledger.record(
                exhibit_id=exhibit.exhibit_id, input=touch.input, at=at, visit_id=visit_id
            )
            with lock:
                done += 1
            if progress:
                progress(1)

    threads = [
        threading.Thread(
            target=visitor,
            args=(exhibit, [t for t in touches if t.exhibit_id == exhibit_id]),
            name=f"visitor-{exhibit_id}",
            daemon=True,
        )
        for exhibit_id, exhibit in exhibits.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done


def run(
    config: RunConfig,
    *,
    on_plan: Progress | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Run the simulation end to end; every performed interaction is in the ledger.

    ``on_plan`` hears how many touches are planned, ``progress`` each one done;
    setting ``stop`` ends the visitors early (the agents still flush).
    """
    stop = stop or threading.Event()
    ids = exhibit_ids(config.exhibits, config.exhibit_prefix)
    client = FleetClient(config.api_url, token=config.token)
    created = config.visit_id is None
    try:
        visit_id = config.visit_id or register(client, ids, duration_s=config.duration_s)
        if created:
            # As staff do before a trip: the tag places the exhibits' records in the visit
            # even when their clocks are not synced (this machine's may not be), where the
            # fleet would otherwise keep them unplaced (docs/simulator.md, "Bounds").
            client.check_out(visit_id)
        assigned = created or client.checked_out(visit_id)
    finally:
        client.close()
    exhibits = {
        exhibit_id: SimulatedExhibit(
            exhibit_id,
            broker_url=config.broker_url,
            data_dir=config.data_dir,
            bucket_seconds=config.bucket_seconds,
        )
        for exhibit_id in ids
    }
    touches = script(
        seed=config.seed,
        exhibit_inputs={i: e.inputs for i, e in exhibits.items()},
        duration_s=config.duration_s,
        mean_gap_s=config.mean_gap_s,
    )
    if on_plan:
        on_plan(len(touches))
    ledger = Ledger(config.ledger_path)
    try:
        for exhibit in exhibits.values():
            exhibit.start()
        if assigned:
            wait_assigned(list(exhibits.values()), visit_id, timeout_s=config.flush_timeout_s)
        done = perform(touches, exhibits, ledger, visit_id=visit_id, stop=stop, progress=progress)
        flushed = all(e.flush(config.flush_timeout_s) for e in exhibits.values())
    finally:
        for exhibit in exhibits.values():
            exhibit.stop()
        ledger.close()
    return RunResult(visit_id, ids, done, flushed)
