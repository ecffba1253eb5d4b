"""A simulated exhibit: the REAL agent on its own gpiozero MockFactory, and a hand on its pins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from device.agent import Agent
from device.clock import SystemClock
from device.config import load_settings
from device.inputs import pulse_motion

MOTION_TIMEOUT_S = 2.0
"""How long a visitor waits in front of a motion sensor for it to notice (it samples at 10 Hz)."""


@dataclass(frozen=True, slots=True)
class InputWiring:
    """One input of a simulated exhibit: its name, kind and GPIO pin."""

    name: str
    kind: str
    pin: int


DEFAULT_WIRING = (InputWiring("button", "button", 17), InputWiring("motion", "motion", 4))


class SimulatedExhibit:
    """A real ``device.agent.Agent`` whose inputs are driven on mock pins."""

    def __init__(
        self,
        exhibit_id: str,
        *,
        broker_url: str,
        data_dir: Path,
        bucket_seconds: float,
        wiring: tuple[InputWiring, ...] = DEFAULT_WIRING,
    ) -> None:
        self.exhibit_id = exhibit_id
        self.wiring = {w.name: w for w in wiring}
        self.factory = MockFactory()
        # Only these values count: the simulator's own EXHIBIT_* environment must not leak in.
        self.settings = load_settings(
            use_environment=False,
            exhibit_id=exhibit_id,
            broker_url=broker_url,
            data_dir=data_dir / exhibit_id,
            inputs=[{"name": w.name, "kind": w.kind, "pin": w.pin} for w in wiring],
            bucket_seconds=bucket_seconds,
        )
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
        """Perform one interaction on ``input_name`` the way a visitor would."""
        wiring = self.wiring[input_name]
        pin = self.factory.pin(wiring.pin)
        if wiring.kind == "button":
            pin.drive_low()  # pressed (buttons are pulled up, active low)
            pin.drive_high()
        elif wiring.kind == "motion":
            # Walk up, wait until the sampling sensor notices, walk away until it clears.
            # A miss is not hidden here: the ledger records the visit, verify finds the loss.
            pulse_motion(self.agent.inputs, input_name, pin, timeout=MOTION_TIMEOUT_S)
        else:
            raise ValueError(f"the simulator cannot drive a {wiring.kind!r} input yet")
        pin.clear_states()  # MockPin keeps every state change; a long run would grow

    def flush(self, timeout: float) -> bool:
        """Seal open buckets and wait until the broker acknowledged everything."""
        return self.agent.flush(timeout)

    def stop(self) -> None:
        """Stop the agent and release its pins."""
        self.agent.stop()
        self.factory.reset()
