"""The exhibit agent: wires inputs, outbox, worker and broker link, and runs them.

Threads and hand-offs::

    gpiozero callbacks ──Interaction──┐
    link threads ──up/down/PUBACK─────┼──> one queue ──> worker (device.delivery)
    flush() / stop() requests ────────┘                   ├──> Outbox (SQLite)
                                                          └──> Link.publish()

Only the worker touches SQLite; callbacks only enqueue. ``Agent`` is what the CLI runs
on a Pi and what the simulator runs, many at once, on MockFactory pins.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

from device.clock import Clock, SystemClock
from device.config import AgentSettings
from device.delivery import (
    Barrier,
    Delivery,
    FlushRequest,
    QueueEvents,
    StopRequest,
    status_message,
)
from device.errors import AgentError, AgentStateError
from device.inputs import InputBank, build_inputs
from device.link import Link
from device.outbox import Outbox

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Agent:
    """One exhibit's agent; ``start()`` returns at once, ``stop()`` shuts down cleanly.

    ``pin_factory`` None lets gpiozero choose (``GPIOZERO_PIN_FACTORY``; lgpio on a Pi);
    ``clock`` None is the system clock; ``link`` None is a real MQTT link built from
    ``settings``. An Agent starts once; to restart, create a new one on the same
    ``data_dir`` (it carries on from the outbox).
    """

    def __init__(
        self,
        settings: AgentSettings,
        *,
        pin_factory: Any = None,
        clock: Clock | None = None,
        link: Link | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock or SystemClock()
        self._pin_factory = pin_factory
        self._link = link
        self._events: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._state = "new"
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._outbox: Outbox | None = None
        self._inputs: InputBank | None = None
        self._delivery: Delivery | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Open the outbox, set up the inputs, start the worker and the link; return at once.

        Raises OutboxError or InputError (leaving nothing running) if either cannot be used.
        """
        with self._state_lock:
            if self._state != "new":
                raise AgentStateError("an Agent starts once; create a new one to start again")
            self._state = "starting"
        settings = self.settings
        try:
            outbox = Outbox(settings.outbox_path, bucket_seconds=settings.bucket_seconds)
        except BaseException:
            self._state = "stopped"
            raise
        try:
            sealed = outbox.seal_stale(boot_id=self._clock.boot_id())
            if sealed:
                log.info("sealed %d bucket(s) left open by an earlier boot or config", len(sealed))
            self._inputs = build_inputs(
                settings.inputs,
                pin_factory=self._pin_factory,
                on_interaction=self._events.put,
                clock=self._clock,
            )
            link = self._link or self._mqtt_link()
        except BaseException:
            outbox.close()
            self._state = "stopped"
            raise
        self._link = link
        self._outbox = outbox
        self._delivery = Delivery(
            settings, events=self._events, outbox=outbox, link=link, clock=self._clock
        )
        self._thread = threading.Thread(
            target=self._delivery.run, name=f"agent-{settings.exhibit_id}", daemon=True
        )
        self._thread.start()
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
        if self._thread.is_alive():
            log.error("agent worker did not stop within %.1fs; outbox left open", timeout)
        else:
            self._outbox.close()
        self._state = "stopped"

    def run_forever(self) -> None:
        """Start, block until SIGTERM or SIGINT (or a worker failure), then stop cleanly."""
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: stopping", signum)
            stop.set()

        try:
            previous = {sig: signal.signal(sig, on_signal) for sig in _STOP_SIGNALS}
        except ValueError as exc:
            raise AgentStateError("run_forever() must be called from the main thread") from exc
        try:
            self.start()
            assert self._delivery is not None
            while not stop.wait(0.5) and not self._delivery.finished.is_set():
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.failure is not None:
            raise AgentError(f"agent worker failed: {self.failure}") from self.failure

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
    def link(self) -> Link | None:
        """The broker link (an ``MqttLink`` unless one was injected); None before start."""
        return self._link

    @property
    def failure(self) -> BaseException | None:
        """The exception that stopped the worker, if one did."""
        return None if self._delivery is None else self._delivery.failure

    @property
    def interactions_recorded(self) -> int:
        """Interactions durably counted since ``start()``."""
        return 0 if self._delivery is None else self._delivery.recorded

    def outbox_depth(self) -> int:
        """Sealed records not yet acknowledged by the broker (as of the worker's last turn)."""
        return 0 if self._delivery is None else max(self._delivery.depth, 0)

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the worker knows the broker link is up."""
        if self._delivery is None:
            raise AgentStateError("the agent is not started")
        return self._delivery.connected.wait(timeout)

    def wait_recorded(self, timeout: float) -> bool:
        """Wait until every interaction reported so far is durably in the outbox."""
        return self._request(Barrier(), timeout)

    def flush(self, timeout: float) -> bool:
        """Seal every open bucket now and wait until all of it is acknowledged.

        True once every record sealed up to this call has its PUBACK (with no new
        interactions meanwhile, the outbox is then empty); False after ``timeout``.
        """
        return self._request(FlushRequest(), timeout)

    def _request(self, request: FlushRequest | Barrier, timeout: float) -> bool:
        if self._state != "running" or self._delivery is None:
            raise AgentStateError(f"the agent is {self._state}, not running")
        finished = self._delivery.finished
        self._events.put(request)
        # Real elapsed time, never the injected clock (tests and simulations may freeze it).
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if request.done.wait(min(0.05, max(remaining, 0.0))):
                return True
            if remaining <= 0 or finished.is_set():
                return request.done.is_set()

    # -- the real link -------------------------------------------------------------------

    def _mqtt_link(self) -> Link:
        from device.mqtt_link import LinkOptions, MqttLink  # paho only when really needed

        settings = self.settings
        options = LinkOptions(
            host=settings.broker_host,
            port=settings.broker_port,
            client_id=settings.mqtt_client_id,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            keepalive=settings.keepalive_s,
            will=status_message(settings, online=False),
            birth=lambda: status_message(settings, online=True, clock=self._clock),
            max_inflight=settings.inflight_window,
            reconnect_min_s=settings.reconnect_min_s,
            reconnect_max_s=settings.reconnect_max_s,
        )
        return MqttLink(options)
