"""A simulated exhibit: the REAL agent on its own gpiozero MockFactory, and a hand on its pins.

For ``exhibit-sim run`` and the demo, in real time: each touch is a gesture of the signal
model (``simulator.signals``: bounce on both edges, flicker), slept edge by edge, then the
hand waits until the agent's release debounce has passed before it touches again.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from device.core.clock import SystemClock
from device.runtime.agent import Agent
from device.settings.config import load_settings
from simulator.signals import SignalModel, gesture, play

SETTLE_MARGIN_S = 0.02
"""Added to the agent's release debounce before the next touch (a real hand is slower)."""


@dataclass(frozen=True, slots=True)
class InputWiring:
    """One input of a simulated exhibit: its name, kind and GPIO pin."""

    name: str
    kind: str
    pin: int


DEFAULT_WIRING = (InputWiring("button", "button", 17), InputWiring("beam", "beam", 4))
"""Fast inputs: a PIR takes seconds per visitor, too slow for a run of seconds."""


class SimulatedExhibit:
    """A real ``device.runtime.agent.Agent`` whose inputs are driven on mock pins."""

    def __init__(
        self,
        exhibit_id: str,
        *,
        broker_url: str,
        data_dir: Path,
        bucket_seconds: float,
        wiring: tuple[InputWiring, ...] = DEFAULT_WIRING,
        signals: SignalModel | None = None,
    ) -> None:
        self.exhibit_id = exhibit_id
        self.wiring = {w.name: w for w in wiring}
        self.signals = signals or SignalModel()
        self.factory = MockFactory()
        self._touches = itertools.count()
        # Only these values count: the simulator's own EXHIBIT_* environment must not leak in.
        self.settings = load_settings(
            use_environment=False,
            exhibit_id=exhibit_id,
            broker_url=broker_url,
            data_dir=data_dir / exhibit_id,
            inputs=[{"name": w.name, "kind": w.kind, "pin": w.pin} for w in wiring],
            bucket_seconds=bucket_seconds,
        )
        self._release_s = {spec.name: spec.release_debounce for spec in self.settings.inputs}
        self.agent = Agent(
            self.settings,
            pin_factory=self.factory,
            clock=SystemClock(boot_id=f"{exhibit_id}-boot-1"),
        )

    @property
    def inputs(self) -> list[str]:
        """Names of this exhibit's inputs."""
        return sorted(self.wiring)

    def start(self) -> None:
        """Start the agent (it connects and publishes in the background)."""
        self.agent.start()

    def touch(self, input_name: str) -> None:
        """Perform one interaction on ``input_name`` the way a visitor's hand would."""
        wiring = self.wiring[input_name]
        if wiring.kind not in ("button", "beam", "motion"):
            raise ValueError(f"the simulator cannot drive a {wiring.kind!r} input in real time")
        rng = random.Random(f"{self.exhibit_id}:{next(self._touches)}")  # noqa: S311
        pin = self.factory.pin(wiring.pin)

        def drive(role: str, high: bool) -> None:
            if high:
                pin.drive_high()
            else:
                pin.drive_low()

        play(gesture(self.signals, wiring.kind, rng), drive, time.sleep)
        time.sleep(self._release_s[input_name] + SETTLE_MARGIN_S)
        pin.clear_states()  # MockPin keeps every state change; a long run would grow

    def flush(self, timeout: float) -> bool:
        """Seal open buckets and wait until the broker acknowledged everything."""
        return self.agent.flush(timeout)

    def stop(self) -> None:
        """Stop the agent and release its pins."""
        self.agent.stop()
        self.factory.reset()
