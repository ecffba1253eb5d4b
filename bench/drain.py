"""The agents' side of the ingest benchmark: real agents draining pre-filled outboxes.

``python -m bench.drain [--processes N] BROKER_URL DATA_DIR EXHIBIT_ID...`` starts one real
agent per exhibit (each on its own MockFactory, its own outbox, its own MQTT connection),
spread over N OS processes, waits until every outbox is acknowledged, and prints the
wall time the first agent started, the time the last outbox was empty, whether all
drained, and the largest peak RSS of the processes (KiB). ``--custody broker`` makes the
broker's PUBACK confirm a record, as before the fleet's custody acknowledgements.
On real hardware each exhibit is its own Pi: fifty agents behind one GIL
measured the interpreter, not the system, so the agents are split across processes.

Each process builds its agents (imports and setup are not timed), says ``ready``, and
starts them when the parent says ``go``, so all start together.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from bench.backlog import BUCKET_S
from device.core.clock import SystemClock
from device.runtime.agent import Agent
from device.settings.config import load_settings

INPUTS = [
    {"name": "button", "kind": "button", "pin": 17},
    {"name": "motion", "kind": "motion", "pin": 4},
    {"name": "dial", "kind": "button", "pin": 27},
]


def main() -> None:
    """Run the agents in ``--processes`` processes; print start, end and whether all drained."""
    parser = argparse.ArgumentParser(prog="python -m bench.drain")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--group", action="store_true", help="internal: one process's agents")
    parser.add_argument(
        "--custody",
        choices=("fleet", "broker"),
        default="fleet",
        help="what confirms a record: the fleet's custody message, or the broker's PUBACK",
    )
    parser.add_argument("broker_url")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("exhibit_ids", nargs="+")
    args = parser.parse_args()
    if args.group:
        drain_group(args.broker_url, args.data_dir, args.exhibit_ids, custody=args.custody)
        return
    groups = [args.exhibit_ids[n :: args.processes] for n in range(args.processes)]
    command = [
        sys.executable,
        "-m",
        "bench.drain",
        "--group",
        "--custody",
        args.custody,
        args.broker_url,
        str(args.data_dir),
    ]
    children = [
        subprocess.Popen(
            [*command, *group],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for group in groups
        if group
    ]
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("an agents' process did not start")
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        began, ended, drained, rss_kb = out.split()
        results.append((float(began), float(ended), drained == "True", int(rss_kb)))
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    peak = max(r[3] for r in results)
    print(f"{start!r} {end!r} {all(r[2] for r in results)} {peak}", flush=True)


def drain_group(
    broker_url: str, data_dir: Path, exhibit_ids: list[str], *, custody: str = "fleet"
) -> None:
    """Build these exhibits' agents, wait for ``go``, run them until their outboxes are empty.

    Prints the start, the end, whether all drained, and the process's peak RSS in KiB."""
    agents = [
        Agent(
            load_settings(
                use_environment=False,
                exhibit_id=exhibit_id,
                broker_url=broker_url,
                data_dir=data_dir / exhibit_id,
                inputs=INPUTS,
                bucket_seconds=BUCKET_S,
                custody=custody,
            ),
            pin_factory=MockFactory(),
            clock=SystemClock(boot_id=f"{exhibit_id}-bench"),
        )
        for exhibit_id in exhibit_ids
    ]
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    start = time.time()
    for agent in agents:
        agent.start()
    drained = all(agent.flush(300) for agent in agents)
    end = time.time()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{start!r} {end!r} {drained} {peak_kb}", flush=True)
    for agent in agents:
        agent.stop()


if __name__ == "__main__":
    main()
