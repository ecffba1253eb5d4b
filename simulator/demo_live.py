"""The demo's agents: the term replayed fast, then today's field trip in real time.

Real agents (``device.runtime.agent.Agent``) run in host processes on simulated clocks
(:mod:`simulator.hosting`), synced as a Pi with NTP is. Past trips' interactions are
made at their own (past) times in a few seconds: each clock jumps from one to the next.
Today's trip is then checked out (the agents tag their records) and its visitors come
as real time reaches them: every step moves the clocks to the real now. The same agents,
data directories and seq streams do both, as one exhibit would.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from broker.exhibit_config import config_hash
from simulator.demo_story import lamp_for_8_s, live_plan, register, term
from simulator.fleet_client import FleetClient
from simulator.hosting import Hosting
from simulator.ledger import Ledger
from simulator.plan import PlannedTouch, build_plan

DEMO_HOURS = 8
BUCKET_SECONDS = 5.0


class Story:
    """The demo's term in the fleet and its exhibits' agents."""

    def __init__(
        self, client: FleetClient, broker_url: str, data_dir: Path, *, exhibits: int, seed: int
    ) -> None:
        self.client = client
        self.scenario, trips = term(
            datetime.now(UTC),
            exhibits=exhibits,
            seed=seed,
            hours=DEMO_HOURS,
            bucket_seconds=BUCKET_SECONDS,
        )
        self.visit_ids = register(client, self.scenario, trips)
        # Today's trip is the last but two (then the planned one and the cancelled one).
        self._today = len(self.visit_ids) - 3
        self.today_visit = self.visit_ids[self._today]
        self.past = f"{self._today} field trips"
        self._touches = sorted(
            [t for t in build_plan(self.scenario).touches if t.visit != self._today]
            + live_plan(self.scenario, self._today),
            key=lambda t: (t.at, t.exhibit_id),
        )
        self._cursor = 0
        self._ledger = Ledger(data_dir / "ledger.jsonl")
        self._hosting = Hosting(self.scenario, data_dir / "agents", lambda _: broker_url)
        self._hosting.start_all(self.scenario.start)
        self.history_touches = sum(1 for t in self._touches if t.at < datetime.now(UTC))

    def _done(self, touches: list[PlannedTouch]) -> None:
        for touch in touches:
            visit = None if touch.visit is None else self.visit_ids[touch.visit]
            self._ledger.record(
                exhibit_id=touch.exhibit_id, input=touch.input, at=touch.at, visit_id=visit
            )

    def _play_until(self, now: datetime) -> None:
        start = self._cursor
        while self._cursor < len(self._touches) and self._touches[self._cursor].at <= now:
            self._cursor += 1
        self._hosting.run(self._touches[start : self._cursor], now, self._done)

    def replay_history(self) -> None:
        """Every interaction up to now, at its own time (the clocks jump)."""
        self._play_until(datetime.now(UTC))

    def go_live(self) -> None:
        """A technician's change pushed to one exhibit (applied at once: it is at the depot),
        then today's trip checked out; the agents hold both before this returns."""
        exhibit_id, changed = lamp_for_8_s(self.scenario)
        version = self.client.push_config(exhibit_id, changed, force=False)
        self._hosting.ask(
            exhibit_id, {"op": "wait", "config": version, "config_hash": config_hash(changed)}
        )
        self.client.check_out(self.today_visit)
        for exhibit_id in self.scenario.visits[self._today].exhibits:
            self._hosting.ask(exhibit_id, {"op": "wait", "visit": self.today_visit})

    def live_step(self, *, seconds: float) -> bool:
        """Wait ``seconds``, then make what visitors did meanwhile; False once today's
        trip is over."""
        time.sleep(seconds)
        now = datetime.now(UTC)
        self._play_until(now)
        return now < self.scenario.end

    def close(self) -> None:
        """Stop the agents (each flushes what it holds first) and close the ledger."""
        try:
            self._hosting.stop_all()
        finally:
            self._ledger.close()
