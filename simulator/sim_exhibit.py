"""One simulated exhibit inside a host process: the REAL agent on mock pins and a SimClock.

A visitor's touch is a gesture of the scenario's signal model (``simulator.signals``):
bounce, flicker, re-triggers, each edge driven at its own moment of the simulated clock.
Its Pi's identity (machine-id, CPU serial, SD card id) lives in files of its own
``machine_dir``, so a clone is simply the same data on a Pi with other files.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.ops import identity
from device.runtime.agent import Agent
from device.settings.config import AgentSettings, load_settings
from device.settings.wiring import InputSpec, RotaryInput
from simulator.host_protocol import ExhibitBoot
from simulator.scenario_controller import wiring
from simulator.signals import gesture, play
from simulator.simclock import SimClock

log = logging.getLogger(__name__)

CATCH_UP_S = 30.0
GESTURE_MARGIN_S = 1.0
RECONNECT_MAX_S = 1.0
"""Real seconds between reconnects at most: a partition of days heals in about a second."""


def agent_settings(boot: ExhibitBoot) -> AgentSettings:
    """The agent's settings: only these values count, never the host's EXHIBIT_* variables.

    As on a Pi, a configuration the fleet pushed (``pushed-config.json`` in the data
    directory) is laid over them (``device.settings.pushed``).
    """
    return load_settings(
        use_environment=False,
        exhibit_id=boot.exhibit_id,
        broker_url=boot.broker_url,
        data_dir=boot.data_dir,
        inputs=wiring(boot.inputs),
        bucket_seconds=boot.bucket_seconds,
        session_idle_s=boot.session_idle_s,
        heartbeat_seconds=boot.heartbeat_seconds,
        keepalive_s=boot.keepalive_s,
        reconnect_min_s=0.1,
        reconnect_max_s=RECONNECT_MAX_S,
        # Fixed v5: the partition proxy accepts a connection before it knows the broker is
        # down, and "auto" would take two such closes for a 3.1.1-only broker.
        mqtt_protocol="5",
        machine_id_file=boot.machine_dir / "machine-id",
        cpuinfo_file=boot.machine_dir / "cpuinfo",
        sd_cid_file=boot.machine_dir / "sd-cid",
        **(boot.controller or {}),
    )


class SimExhibit:
    """A real ``Agent`` whose pins and clock the host drives."""

    def __init__(self, boot: ExhibitBoot) -> None:
        self.exhibit_id = boot.exhibit_id
        self.clock = SimClock(
            true_now=boot.true_now,
            boot_id=boot.boot_id,
            skew=timedelta(seconds=boot.skew_s),
            synced=boot.synced,
        )
        self.factory = MockFactory(pin_class=MockPWMPin)  # servos, motors, dimmed lamps
        self.signals = boot.signals
        self.seed = boot.seed
        self._boot = boot
        self.settings = agent_settings(boot)
        self._by_count_name: dict[str, tuple[InputSpec, int]] = {}
        for spec in self.settings.inputs:
            # A rotary counts clockwise first, then counter-clockwise: turn +1 / -1.
            for direction, name in zip((1, -1), spec.count_names(), strict=False):
                self._by_count_name[name] = (spec, direction)
        self.agent = Agent(self.settings, pin_factory=self.factory, clock=self.clock)
        # A gesture moves the clock on after its start (a PIR presence: many seconds).
        longest = max(
            self.signals.longest(
                spec.kind, spec.steps_per_interaction if isinstance(spec, RotaryInput) else 1
            )
            for spec in self.settings.inputs
        )
        self._idle = timedelta(seconds=boot.session_idle_s - longest - GESTURE_MARGIN_S)
        self._recorded: datetime | None = None  # the latest touch known recorded
        self._unrecorded: list[datetime] = []  # touches since (their starts)

    def catch_up(self, until: datetime, timeout: float = CATCH_UP_S) -> None:
        """Before the clock leaps to ``until``: let the agent handle what gestures queued.

        On a Pi time passes while the worker turns; here the host moves the clock by
        seconds in an instant, and a worker turn that saw the new time before a queued
        interaction would end the session as idle (two sessions for one burst). That can
        only happen if ``until`` is an idle time after the latest interaction the worker
        may have handled: the latest touch known recorded, or else the first since, less
        the longest gesture (it moves the clock on after its start). Only then wait (a
        wait per touch would cost each interaction its own transaction).
        """
        if not self._unrecorded:
            return
        handled = self._recorded or self._unrecorded[0]
        if until - handled < self._idle:
            return
        if not self.agent.wait_recorded(timeout):
            raise TimeoutError(f"{self.exhibit_id} did not record its touches in {timeout} s")
        self.recorded()

    def recorded(self) -> None:
        """The agent has handled every touch so far (the host waited for it)."""
        if self._unrecorded:
            self._recorded = self._unrecorded[-1]
            self._unrecorded.clear()

    def start(self) -> None:
        """Record the Pi's identity on a first boot, then start the agent.

        Raises ``device.core.errors.IdentityMismatch`` on a cloned card, like the real agent.
        """
        if identity.recorded(self.settings) is None:
            identity.provision(self.settings)
        self.agent.start()

    def rebuild_if_asked(self) -> bool:
        """Apply a configuration the fleet pushed, as ``exhibit-agent run`` does on a Pi.

        Once the agent has written it (``device.ops.remote_config``) it asks to be rebuilt:
        it is stopped cleanly (what is queued is counted) and a new ``Agent`` starts on the
        settings loaded again, on the same pins, clock and outbox. It reports ``applied``.
        The inputs stay those of the scenario (a push never rewires them here).
        """
        if not self.agent.reconfigure_requested:
            return False
        self.agent.stop()
        self.recorded()
        self.settings = agent_settings(self._boot)
        self.agent = Agent(self.settings, pin_factory=self.factory, clock=self.clock)
        self.agent.start()
        log.info("%s runs configuration version %s", self.exhibit_id, self.settings.config_version)
        return True

    def outputs(self, timeout: float = CATCH_UP_S) -> dict[str, dict[str, Any]]:
        """What each output does at the clock's moment (``OutputBank.state``), once the
        agent has handled every touch and its behaviour engine has caught up with both."""
        if not self.agent.wait_recorded(timeout):
            raise TimeoutError(f"{self.exhibit_id} did not record its touches in {timeout} s")
        self.recorded()
        controller = self.agent.controller
        if not controller.settle(timeout):
            raise TimeoutError(f"{self.exhibit_id}'s behaviours did not settle in {timeout} s")
        return {name: controller.outputs.state(name) for name in controller.outputs.names}

    def touch(self, count_name: str, at: datetime, *, catch_up: bool = True) -> None:
        """One interaction counted under ``count_name``, made from ``at`` the way hardware does.

        The edges of the gesture each come at their own simulated moment; the clock is
        left at the last one. The gesture repeats run to run (seeded by the scenario's
        seed, the exhibit, the moment and the count name).
        """
        spec, direction = self._by_count_name[count_name]
        steps = direction * spec.steps_per_interaction if isinstance(spec, RotaryInput) else 1
        rng = random.Random(f"{self.seed}:{self.exhibit_id}:{at.timestamp()}:{count_name}")  # noqa: S311
        moves = gesture(self.signals, spec.kind, rng, steps=steps)
        pins = {role: self.factory.pin(number) for role, number in _roles(spec).items()}

        def drive(role: str, high: bool) -> None:
            if high:
                pins[role].drive_high()
            else:
                pins[role].drive_low()

        if catch_up:  # not for presses in the instant before a power cut: they are in flight
            self.catch_up(at)
        self.clock.advance_to(at)
        play(moves, drive, self.clock.advance)
        self._unrecorded.append(at)
        for pin in pins.values():
            pin.clear_states()  # MockPin keeps every state change; a week would grow

    def status(self) -> dict[str, Any]:
        """What the coordinator asks about: link, outbox depth, assignment, clock, failure."""
        agent = self.agent
        running = agent.state == "running"
        return {
            "connected": running and agent.wait_connected(0),
            "depth": agent.outbox_depth(),
            "visit": agent.visit_id,
            "synced": agent.clock_synced,
            "failed": None if agent.failure is None else str(agent.failure),
            "config_version": self.settings.config_version,
        }

    def stop(self) -> None:
        """Stop the agent cleanly (offline status, outbox closed) and release the pins."""
        self.agent.stop()
        self.factory.reset()


def _roles(spec: InputSpec) -> dict[str, int]:
    """The pins a gesture drives, by the names ``simulator.signals`` gives them."""
    if isinstance(spec, RotaryInput):
        return {"a": spec.a_pin, "b": spec.b_pin}
    pin = spec.pins().get("pin")
    if pin is None:
        raise ValueError(f"the simulator cannot drive a {spec.kind!r} input")
    return {"pin": pin}
