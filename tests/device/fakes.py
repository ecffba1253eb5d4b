"""A recording Link for unit tests: no sockets, the test decides when the broker answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from broker.messages import CountBatch, Heartbeat, Status
from device.link import LinkEvents, Publication


@dataclass(frozen=True)
class Sent:
    """One publish the agent made."""

    session: int
    mid: int
    message: Publication


class FakeLink:
    """Implements device.link.Link; ``connect()``/``drop()``/``ack()`` play the broker."""

    def __init__(self, *, auto_ack: bool = False) -> None:
        self.auto_ack = auto_ack
        self.events: LinkEvents | None = None
        self.sent: list[Sent] = []
        self.closed: tuple[Publication | None, bool] | None = None
        self.live: int | None = None
        self.answered: set[tuple[int, int]] = set()
        self._session = 0
        self._mid = 0
        self._lock = threading.Lock()

    # -- Link ----------------------------------------------------------------------------

    def start(self, events: LinkEvents) -> None:
        self.events = events

    def publish(self, session: int, message: Publication) -> int | None:
        with self._lock:
            if session != self.live:
                return None
            self._mid += 1
            mid = self._mid
            self.sent.append(Sent(session, mid, message))
        if self.auto_ack and self.events is not None:
            self.events.link_acked(session, mid, True)
        return mid

    def close(self, *, farewell: Publication | None, timeout: float, abrupt: bool = False) -> None:
        self.closed = (farewell, abrupt)

    # -- playing the broker --------------------------------------------------------------

    def connect(self) -> int:
        assert self.events is not None, "start the agent first"
        with self._lock:
            self._session += 1
            self.live = self._session
            self._mid = 0  # a new connection's message ids restart, like a new paho client
        self.events.link_connected(self._session)
        return self._session

    def drop(self) -> None:
        assert self.events is not None
        with self._lock:
            session, self.live = self.live, None
        assert session is not None
        self.events.link_disconnected(session, "test drop")

    def ack(self, sent: Sent, *, accepted: bool = True) -> None:
        assert self.events is not None
        self.answered.add((sent.session, sent.mid))
        self.events.link_acked(sent.session, sent.mid, accepted)

    def ack_all(self) -> int:
        """Acknowledge every count batch of the live session not answered yet."""
        todo = [
            sent
            for sent, _batch in self.batches(self.live)
            if (sent.session, sent.mid) not in self.answered
        ]
        for sent in todo:
            self.ack(sent)
        return len(todo)

    # -- reading what was sent -----------------------------------------------------------

    def batches(self, session: int | None = None) -> list[tuple[Sent, CountBatch]]:
        with self._lock:
            sent = list(self.sent)
        return [
            (s, CountBatch.model_validate_json(s.message.payload))
            for s in sent
            if s.message.topic.endswith("/counts") and (session is None or s.session == session)
        ]

    def heartbeats(self) -> list[Heartbeat]:
        with self._lock:
            sent = list(self.sent)
        return [
            Heartbeat.model_validate_json(s.message.payload)
            for s in sent
            if s.message.topic.endswith("/heartbeat")
        ]

    def counted(self) -> dict[str, int]:
        """Interactions per input over distinct seqs (duplicates counted once)."""
        seen: dict[int, tuple[str, int]] = {}
        for _sent, batch in self.batches():
            for record in batch.records:
                seen[record.seq] = (record.input, record.count)
        totals: dict[str, int] = {}
        for name, count in seen.values():
            totals[name] = totals.get(name, 0) + count
        return totals


def closed_status(link: FakeLink) -> Status | None:
    """The farewell status the agent handed to close(), if any."""
    assert link.closed is not None
    farewell, _abrupt = link.closed
    return None if farewell is None else Status.model_validate_json(farewell.payload)


def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)
