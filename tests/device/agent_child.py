"""Child process for the kill -9 test: a real agent on mock pins, pressing its button.

    python -m tests.device.agent_child PORT DATA_DIR PRESSES

Prints ``ready``, then ``recorded N`` each time N presses are durably counted, and then
(when PRESSES is 0: drain mode) ``flushed True|False`` after flushing, and exits.
Otherwise it keeps running until killed.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from device.runtime.agent import Agent
from device.settings.config import AgentSettings


def main(argv: list[str]) -> int:
    port, data_dir, presses = int(argv[0]), Path(argv[1]), int(argv[2])
    settings = AgentSettings(
        exhibit_id="exhibit-kill",
        broker_url=f"mqtt://127.0.0.1:{port}",
        data_dir=data_dir,
        inputs=[{"name": "button", "kind": "button", "pin": 17, "debounce_s": 0}],
        bucket_seconds=0.05,
        inflight_window=4,
        batch_max_records=3,
        reconnect_max_s=0.5,
        heartbeat_seconds=3600,
    )
    factory = MockFactory()
    agent = Agent(settings, pin_factory=factory)
    agent.start()
    if not agent.wait_connected(10):
        print("not connected", flush=True)
        return 1
    print("ready", flush=True)
    pin = factory.pin(17)
    for n in range(1, presses + 1):
        pin.drive_low()
        pin.drive_high()
        # One durable commit per press paces the presses over many buckets and batches.
        if agent.wait_recorded(10) and n % 10 == 0:
            print(f"recorded {n}", flush=True)
    if presses:
        threading.Event().wait()  # until killed
    flushed = agent.flush(30)
    print(f"flushed {flushed}", flush=True)
    agent.stop()
    return 0 if flushed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
