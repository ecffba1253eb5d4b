"""A MessageSource double that records calls, and a waiting helper."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from fleet_api.errors import BrokerUnavailable
from fleet_api.inbound import Deliver, Inbound


class FakeSource:
    """Delivers what a test pushes; records acks (optionally checking something at ack time)
    and publications (refusing those on ``refuse`` topics)."""

    def __init__(self, on_ack: Callable[[Inbound], None] | None = None) -> None:
        self.acked: list[Inbound] = []
        self.published: list[tuple[str, bytes, bool]] = []
        self.expiries: list[int | None] = []  # the MQTT v5 expiry of each published
        self.sent: list[tuple[str, bytes]] = []
        """Unwaited publications (custody acknowledgements), with the acks in between."""
        self.refuse: set[str] = set()
        """Topics whose publication fails as if the broker were unreachable."""
        self.connected = False
        self.started = False
        self.stopped = False
        self._deliver: Deliver | None = None
        self._on_ack = on_ack

    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self.started = self.connected = True

    def ack(self, message: Inbound) -> None:
        if self._on_ack is not None:
            self._on_ack(message)
        self.acked.append(message)

    def stop(self) -> None:
        self.stopped = True
        self.connected = False

    def send(self, topic: str, payload: bytes) -> None:
        if self.connected:
            self.sent.append((topic, payload))

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool,
        timeout_s: float,
        expiry_s: int | None = None,
    ) -> None:
        if not self.connected or topic in self.refuse:
            raise BrokerUnavailable(f"fake broker refuses {topic}")
        self.published.append((topic, payload, retain))
        self.expiries.append(expiry_s)

    def push(self, *messages: Inbound) -> None:
        """Deliver from another thread, as paho does."""
        assert self._deliver is not None, "start() first"
        deliver = self._deliver
        thread = threading.Thread(target=lambda: [deliver(m) for m in messages])
        thread.start()
        thread.join()


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {predicate}")
        await asyncio.sleep(0.01)
