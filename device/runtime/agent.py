"""The exhibit agent: wires inputs, outbox, worker and broker link, and runs them.

Threads and hand-offs::

    gpiozero callbacks ──Interaction──┐
    link threads ──up/down/PUBACK/msg─┼──> one queue ──> worker (device.runtime.worker)
    flush() / stop() / self-test ─────┘                   ├──> Outbox (SQLite)
                                                          └──> Link.publish()

Only the worker touches SQLite; callbacks only enqueue. ``Agent`` is what the CLI runs
on a Pi and what the simulator runs, many at once, on MockFactory pins. Under systemd,
``run_forever()`` also speaks the notify protocol (``device.runtime.sdnotify``).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

from device.core.clock import Clock, SystemClock
from device.core.errors import AgentError, AgentStateError
from device.core.events import Barrier, FlushRequest, QueueEvents, SelfTestRequest, StopRequest
from device.gpio.controller import Controller
from device.gpio.indicator import Indicator
from device.gpio.inputs import InputBank, build_inputs, build_lamp
from device.link.base import Link
from device.ops import identity
from device.ops.instance import InstanceLock
from device.ops.status import status_message
from device.outbox.store import Outbox
from device.runtime.links import mqtt_link
from device.runtime.sdnotify import Notifier
from device.runtime.worker import CommitHook, Worker
from device.settings.config import AgentSettings

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Agent:
    """One exhibit's agent; ``start()`` returns at once, ``stop()`` shuts down cleanly.

    ``pin_factory`` None lets gpiozero choose (``GPIOZERO_PIN_FACTORY``; lgpio on a Pi);
    ``clock`` None is the system clock; ``link`` None is a real MQTT link built from
    ``settings``; ``notifier`` None reads systemd's environment; ``on_commit`` (for the
    benchmark) is called by the worker after each durable commit with its interactions.
    An Agent starts once; to restart, create a new one on the same ``data_dir`` (it
    carries on from the outbox).
    """

    def __init__(
        self,
        settings: AgentSettings,
        *,
        pin_factory: Any = None,
        clock: Clock | None = None,
        link: Link | None = None,
        notifier: Notifier | None = None,
        on_commit: CommitHook | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock or SystemClock()
        self._pin_factory = pin_factory
        self._link = link
        self._notifier = notifier
        self._on_commit = on_commit
        self._events: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._state = "new"
        self._state_lock = threading.Lock()
        self._lock = InstanceLock(settings.data_dir)
        self._thread: threading.Thread | None = None
        self._outbox: Outbox | None = None
        self._inputs: InputBank | None = None
        self._indicator = Indicator(None)
        self._controller: Controller | None = None
        self._worker: Worker | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Check identity, open the outbox, set up the pins, start worker and link; return.

        Raises AlreadyRunning, IdentityMismatch, OutboxError or InputError (leaving
        nothing running) if this agent cannot run.
        """
        with self._state_lock:
            if self._state != "new":
                raise AgentStateError("an Agent starts once; create a new one to start again")
            self._state = "starting"
        settings = self.settings
        try:
            self._lock.acquire()
            if not identity.check(settings):
                log.info("not provisioned: clone detection is off until 'exhibit-agent provision'")
            outbox = Outbox(
                settings.outbox_path,
                bucket_seconds=settings.bucket_seconds,
                exhibit_id=settings.exhibit_id,
            )
        except BaseException:
            self._lock.release()
            self._state = "stopped"
            raise
        try:
            sealed = outbox.seal_stale(boot_id=self._clock.boot_id())
            if sealed:
                log.info("sealed %d bucket(s) left open by an earlier boot or config", len(sealed))
            if settings.indicator is not None:
                lamp = build_lamp(settings.indicator, pin_factory=self._pin_factory)
                self._indicator = Indicator(lamp)
            controller = Controller(settings, pin_factory=self._pin_factory, clock=self._clock)
            self._controller = controller
            self._inputs = build_inputs(
                settings.inputs,
                pin_factory=self._pin_factory,
                on_interaction=self._events.put,
                clock=self._clock,
                watch=controller.behaviours,
            )
            link = self._link or mqtt_link(self.settings, self._clock)
            worker = Worker(
                settings,
                events=self._events,
                outbox=outbox,
                link=link,
                clock=self._clock,
                indicator=self._indicator,
                on_commit=self._on_commit,
                inputs=self._inputs.rules,
            )
        except BaseException:
            if self._inputs is not None:
                self._inputs.close()
            if self._controller is not None:
                self._controller.close()
            self._indicator.close()
            outbox.close()
            self._lock.release()
            self._state = "stopped"
            raise
        self._link = link
        self._outbox = outbox
        self._worker = worker
        self._thread = threading.Thread(
            target=worker.run, name=f"agent-{settings.exhibit_id}", daemon=True
        )
        self._thread.start()
        controller.start()
        link.start(QueueEvents(self._events))
        self._state = "running"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly: count what is queued, publish offline status, disconnect, close."""
        self._shutdown(abrupt=False, timeout=timeout)

    def crash(self, timeout: float = 10.0) -> None:
        """Stop like a power cut: queued interactions are lost, the broker sends the last will.

        For fault injection: a new Agent on the same ``data_dir`` carries on from the outbox.
        """
        self._shutdown(abrupt=True, timeout=timeout)

    def _shutdown(self, *, abrupt: bool, timeout: float) -> None:
        with self._state_lock:
            if self._state != "running":
                return
            self._state = "stopping"
        assert self._thread is not None
        assert self._link is not None
        assert self._outbox is not None
        if self._inputs is not None:
            self._inputs.close()
        self._events.put(StopRequest(abrupt=abrupt))
        self._thread.join(timeout)
        farewell = (
            None if abrupt else status_message(self.settings, online=False, clock=self._clock)
        )
        self._link.close(farewell=farewell, timeout=timeout, abrupt=abrupt)
        if self._controller is not None:
            self._controller.close()
        self._indicator.close()
        if self._thread.is_alive():
            log.error("agent worker did not stop within %.1fs; outbox left open", timeout)
        else:
            self._outbox.close()
            self._lock.release()
        self._state = "stopped"

    def run_forever(self) -> str:
        """Start, block until SIGTERM or SIGINT (or a worker failure), then stop cleanly.

        Returns ``signal``, or ``reconfigure`` once a configuration from the fleet is applied
        (``device.ops.remote_config``; the caller starts a new Agent on settings loaded again).
        Under systemd: READY=1 once counting (before any broker connection), WATCHDOG=1 every
        WATCHDOG_USEC/2 while the worker turns, then STOPPING=1 (RELOADING=1: reconfigure).
        """
        stop = threading.Event()
        notifier = self._notifier or Notifier()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: stopping", signum)
            stop.set()

        try:
            previous = {sig: signal.signal(sig, on_signal) for sig in _STOP_SIGNALS}
        except ValueError as exc:
            raise AgentStateError("run_forever() must be called from the main thread") from exc
        try:
            self.start()
            worker = self._worker
            assert worker is not None
            notifier.ready(f"counting {len(self.settings.inputs)} input(s)")
            interval = notifier.watchdog_interval
            tick = min(0.5, interval) if interval else 0.5
            next_ping = 0.0
            while not stop.wait(tick) and not worker.finished.is_set():
                if worker.reconfigure.is_set():
                    break  # the fleet's configuration is applied: the caller rebuilds
                now = time.monotonic()
                if interval and now >= next_ping and self.healthy(within=interval):
                    notifier.watchdog()
                    next_ping = now + interval
        finally:
            if self.reconfigure_requested:
                notifier.notify("RELOADING=1", "STATUS=applying the fleet's configuration")
            else:
                notifier.stopping()
            self.stop()
            notifier.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.failure is not None:
            raise AgentError(f"agent worker failed: {self.failure}") from self.failure
        return "reconfigure" if self.reconfigure_requested else "signal"

    def healthy(self, *, within: float) -> bool:
        """Whether the worker finished a turn in the last ``within`` seconds (watchdog)."""
        worker = self._worker
        if worker is None or worker.finished.is_set():
            return False
        return time.monotonic() - worker.last_turn < within

    def __enter__(self) -> Agent:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what callers may ask ------------------------------------------------------------

    @property
    def state(self) -> str:
        """``new``, ``starting``, ``running``, ``stopping`` or ``stopped``."""
        return self._state

    @property
    def inputs(self) -> InputBank:
        """The gpiozero devices (after ``start()``), e.g. to drive them in a simulation."""
        if self._inputs is None:
            raise AgentStateError("inputs exist once the agent is started")
        return self._inputs

    @property
    def controller(self) -> Controller:
        """The outputs and the behaviour engine (after ``start()``)."""
        if self._controller is None:
            raise AgentStateError("outputs exist once the agent is started")
        return self._controller

    @property
    def indicator(self) -> Indicator:
        """The indicator LED (a no-op one when none is configured)."""
        return self._indicator

    @property
    def link(self) -> Link | None:
        """The broker link (an ``MqttLink`` unless one was injected); None before start."""
        return self._link

    @property
    def failure(self) -> BaseException | None:
        """The exception that stopped the worker, if one did."""
        return None if self._worker is None else self._worker.failure

    @property
    def interactions_recorded(self) -> int:
        """Interactions durably counted since ``start()``."""
        return 0 if self._worker is None else self._worker.recorded

    @property
    def reconfigure_requested(self) -> bool:
        """Whether a configuration from the fleet was applied: stop, and start a new Agent."""
        return self._worker is not None and self._worker.reconfigure.is_set()

    @property
    def visit_id(self) -> int | None:
        """The visit new records are tagged with (None: not assigned)."""
        return None if self._worker is None else self._worker.state.visit_id

    @property
    def self_testing(self) -> bool:
        """Whether a self-test window is open (interactions are the technician's)."""
        return self._worker is not None and self._worker.self_tests.active is not None

    @property
    def clock_synced(self) -> bool:
        """Whether the worker last saw the wall clock synced."""
        return self._worker is not None and self._worker.synced

    def outbox_depth(self) -> int:
        """Sealed records not yet acknowledged by the broker (as of the worker's last turn)."""
        return 0 if self._worker is None else max(self._worker.depth, 0)

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the worker knows the broker link is up."""
        if self._worker is None:
            raise AgentStateError("the agent is not started")
        return self._worker.connected.wait(timeout)

    def wait_recorded(self, timeout: float) -> bool:
        """Wait until everything queued so far is handled (interactions durably counted)."""
        return self._request(Barrier(), timeout)

    def flush(self, timeout: float) -> bool:
        """Seal every open bucket and the session in progress, and wait for their PUBACKs.

        True once every record sealed up to this call has its PUBACK (with no new
        interactions meanwhile, the outbox is then empty); False after ``timeout``.
        """
        return self._request(FlushRequest(), timeout)

    def self_test(self, seconds: float, *, command_id: str, timeout: float) -> SelfTestRequest:
        """Run a self-test window of ``seconds`` now; wait up to ``timeout`` for its result.

        The returned request's ``result`` is None if it did not finish in time.
        """
        request = SelfTestRequest(command_id, seconds)
        self._request(request, timeout)
        return request

    def wait_self_test_published(self, timeout: float) -> bool:
        """Wait until the last self-test result has its PUBACK (nothing pending to send)."""
        worker = self._worker
        if worker is None:
            raise AgentStateError("the agent is not started")
        deadline = time.monotonic() + timeout
        while worker.self_test_pending and not worker.finished.is_set():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return not worker.self_test_pending

    def _request(self, request: FlushRequest | Barrier | SelfTestRequest, timeout: float) -> bool:
        if self._state != "running" or self._worker is None:
            raise AgentStateError(f"the agent is {self._state}, not running")
        finished = self._worker.finished
        self._events.put(request)
        # Real elapsed time, never the injected clock (tests and simulations may freeze it).
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if request.done.wait(min(0.05, max(remaining, 0.0))):
                return True
            if remaining <= 0 or finished.is_set():
                return request.done.is_set()
