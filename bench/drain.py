"""The agents' side of the ingest benchmark: real agents draining pre-filled outboxes.

``python -m bench.drain BROKER_URL DATA_DIR EXHIBIT_ID...`` starts one real agent per
exhibit (each on its own MockFactory), waits until every outbox is acknowledged, and
prints the wall times it started and finished.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from bench.backlog import BUCKET_S
from device.agent import Agent
from device.clock import SystemClock
from device.config import load_settings

INPUTS = [
    {"name": "button", "kind": "button", "pin": 17},
    {"name": "motion", "kind": "motion", "pin": 4},
    {"name": "dial", "kind": "button", "pin": 27},
]


def main() -> None:
    """Start the agents, wait for their outboxes to empty, print start and end."""
    broker_url, data_dir, exhibit_ids = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    agents = [
        Agent(
            load_settings(
                use_environment=False,
                exhibit_id=exhibit_id,
                broker_url=broker_url,
                data_dir=data_dir / exhibit_id,
                inputs=INPUTS,
                bucket_seconds=BUCKET_S,
            ),
            pin_factory=MockFactory(),
            clock=SystemClock(boot_id=f"{exhibit_id}-bench"),
        )
        for exhibit_id in exhibit_ids
    ]
    start = time.time()
    for agent in agents:
        agent.start()
    drained = all(agent.flush(300) for agent in agents)
    end = time.time()
    print(f"{start!r} {end!r} {drained}", flush=True)
    for agent in agents:
        agent.stop()


if __name__ == "__main__":
    main()
