"""What reaches the agent's worker through its one queue: plain values, no hardware, no I/O.

Inputs hand over ``Interaction`` values, the broker link its events (through
``QueueEvents``), callers their requests; the worker (``device.runtime.worker``) is the only
thread that acts on any of them.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime

from device.wire.codec import SelfTestResult


@dataclass(frozen=True, slots=True)
class Interaction:
    """One accepted event, stamped with both clocks.

    ``input`` is the count name (``button``, ``button_hold``, ``dial_cw``); ``source`` the
    configured input it came from (``button``, ``dial``), None meaning the same.
    """

    input: str
    wall: datetime
    mono: float
    source: str | None = None

    @property
    def origin(self) -> str:
        """The configured input this interaction came from."""
        return self.source or self.input


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The link connected as ``session``."""

    session: int


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The link's ``session`` ended."""

    session: int
    reason: str


@dataclass(frozen=True, slots=True)
class LinkRefused:
    """The broker refused the connection (bad credentials, not authorised)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The broker answered ``session``'s subscriptions; ``refused``: topic filter -> reason."""

    session: int
    refused: dict[str, str]


@dataclass(frozen=True, slots=True)
class Acked:
    """The broker answered message ``mid`` of ``session``."""

    session: int
    mid: int
    accepted: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message the broker delivered on one of the agent's subscriptions."""

    session: int
    topic: str
    payload: bytes
    expiry_s: int | None = None
    """Seconds left of its MQTT v5 Message Expiry Interval, by the broker's clock."""


@dataclass(frozen=True, slots=True)
class FlushRequest:
    """Seal everything now; ``done`` is set once all of it is acknowledged."""

    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class Barrier:
    """``done`` is set once everything queued before it is durably counted."""

    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class StopRequest:
    """End the worker; ``abrupt`` drops what is still queued, like a power cut."""

    abrupt: bool


@dataclass(slots=True)
class SelfTestRequest:
    """Run a self-test of ``seconds``; ``done`` is set when ``result`` is known."""

    command_id: str
    seconds: float
    done: threading.Event = field(default_factory=threading.Event)
    result: SelfTestResult | None = None


class QueueEvents:
    """``LinkEvents`` that only enqueue: link threads never touch the worker's state."""

    def __init__(self, events: queue.SimpleQueue[object]) -> None:
        self._events = events

    def link_connected(self, session: int) -> None:
        """Enqueue LinkUp."""
        self._events.put(LinkUp(session))

    def link_disconnected(self, session: int, reason: str) -> None:
        """Enqueue LinkDown."""
        self._events.put(LinkDown(session, reason))

    def link_refused(self, reason: str) -> None:
        """Enqueue LinkRefused."""
        self._events.put(LinkRefused(reason))

    def link_subscribed(self, session: int, refused: dict[str, str]) -> None:
        """Enqueue Subscribed."""
        self._events.put(Subscribed(session, dict(refused)))

    def link_acked(self, session: int, mid: int, accepted: bool, reason: str = "") -> None:
        """Enqueue Acked."""
        self._events.put(Acked(session, mid, accepted, reason))

    def link_message(
        self, session: int, topic: str, payload: bytes, expiry_s: int | None = None
    ) -> None:
        """Enqueue Inbound."""
        self._events.put(Inbound(session, topic, payload, expiry_s))
