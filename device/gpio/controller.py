"""What the exhibit drives: its outputs and the behaviour engine, built from the settings.

The agent builds this before its inputs (the inputs' rules tell the engine of every
level change), starts it once counting runs, and stops it before it closes the outputs,
which puts every output back in its safe state.
"""

from __future__ import annotations

from typing import Any

from device.core.clock import Clock
from device.gpio.behaviours import Behaviours
from device.gpio.outputs import OutputBank, build_outputs
from device.settings.config import AgentSettings
from device.settings.controller import input_table


class Controller:
    """An exhibit's outputs and, when it has rules or attract mode, its behaviour engine."""

    def __init__(self, settings: AgentSettings, *, pin_factory: Any, clock: Clock) -> None:
        self.outputs: OutputBank = build_outputs(settings.outputs, pin_factory=pin_factory)
        self.behaviours: Behaviours | None = None
        if settings.behaviours or settings.attract:
            self.behaviours = Behaviours(
                rules=settings.behaviours,
                inputs={spec.name: input_table(spec) for spec in settings.inputs},
                outputs=self.outputs,
                clock=clock,
                attract=settings.attract,
                quiet_hours=settings.quiet_hours,
            )

    def start(self) -> None:
        """Start the behaviour engine, if there is one."""
        if self.behaviours is not None:
            self.behaviours.start()

    def settle(self, timeout: float = 5.0) -> bool:
        """Until the engine has caught up with its facts and the clock (see
        ``Behaviours.settle``); True at once without an engine (outputs only change then by
        starting and stopping)."""
        return True if self.behaviours is None else self.behaviours.settle(timeout)

    def close(self) -> None:
        """Stop the engine, then every output to its safe state and its pins released."""
        if self.behaviours is not None:
            self.behaviours.stop()
        self.outputs.close()
