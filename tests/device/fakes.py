"""A recording Link for unit tests: no sockets, the test decides when the broker answers.

It plays the fleet too (``fleet=True``, the default): a count batch the broker accepts is
then confirmed stored with a ``Custody`` message, as the fleet's ingestion does after its
commit. ``ack(sent, confirm=False)`` is a PUBACK that the fleet never follows (a broker
crash, a dead ingest worker); ``confirm(sent)`` is the custody message alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from broker.limits import MAX_CUSTODY_RANGES
from broker.messages import CountBatch, CountRecord, Custody, Heartbeat, SessionRecord, Status
from broker.topics import Channel, exhibit_topic
from device.link.base import LinkEvents, Publication


@dataclass(frozen=True)
class Sent:
    """One publish the agent made."""

    session: int
    mid: int
    message: Publication


class FakeLink:
    """Implements device.link.base.Link; ``connect()``/``drop()``/``ack()`` play the broker."""

    def __init__(self, *, auto_ack: bool = False, fleet: bool = True) -> None:
        self.auto_ack = auto_ack
        self.fleet = fleet
        self.stored: set[tuple[str, int]] = set()  # (exhibit, seq) the fleet has confirmed
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
            self.ack(Sent(session, mid, message))
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

    def ack(
        self, sent: Sent, *, accepted: bool = True, reason: str = "", confirm: bool | None = None
    ) -> None:
        """The broker's PUBACK; then, playing the fleet, its custody message."""
        assert self.events is not None
        self.answered.add((sent.session, sent.mid))
        self.events.link_acked(sent.session, sent.mid, accepted, reason)
        if accepted and (self.fleet if confirm is None else confirm):
            self.confirm(sent)

    def confirm(self, sent: Sent) -> None:
        """The fleet stored ``sent`` (a count batch): say so, as a custody message."""
        if not sent.message.topic.endswith("/counts"):
            return
        batch = CountBatch.model_validate_json(sent.message.payload)
        with self._lock:
            self.stored |= {(batch.exhibit_id, record.seq) for record in batch.records}
            seqs = {seq for exhibit, seq in self.stored if exhibit == batch.exhibit_id}
        custody = custody_for(batch.exhibit_id, seqs)
        topic = exhibit_topic(batch.exhibit_id, Channel.CUSTODY)
        if self.live is not None and self.events is not None:
            self.events.link_message(self.live, topic, custody.to_payload())

    def deliver(self, topic: str, payload: bytes, expiry_s: int | None = None) -> None:
        """A message on one of the agent's subscriptions (e.g. a retained command).

        ``expiry_s``: the MQTT v5 Message Expiry Interval left, as a broker would say.
        """
        assert self.events is not None
        assert self.live is not None, "connect first"
        self.events.link_message(self.live, topic, payload, expiry_s)

    def refuse(self, reason: str = "Not authorized") -> None:
        """The broker refuses to connect."""
        assert self.events is not None
        self.events.link_refused(reason)

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

    def published(self, suffix: str) -> list[Sent]:
        """Everything published on topics ending in ``suffix``."""
        with self._lock:
            return [s for s in self.sent if s.message.topic.endswith(suffix)]

    def records(self) -> list[CountRecord | SessionRecord]:
        """Every record sent, in order, duplicates included."""
        return [r for _sent, batch in self.batches() for r in batch.records]

    def sessions(self) -> list[SessionRecord]:
        """Distinct session records sent, by seq."""
        by_seq = {r.seq: r for r in self.records() if isinstance(r, SessionRecord)}
        return [by_seq[seq] for seq in sorted(by_seq)]

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
        for record in self.records():
            if isinstance(record, CountRecord):
                seen[record.seq] = (record.input, record.count)
        totals: dict[str, int] = {}
        for name, count in seen.values():
            totals[name] = totals.get(name, 0) + count
        return totals


def custody_for(exhibit_id: str, stored: set[int]) -> Custody:
    """What a fleet that has stored ``stored`` of the exhibit's seqs tells it."""
    below = 1
    while below in stored:
        below += 1
    ranges: list[tuple[int, int]] = []
    for seq in sorted(seq for seq in stored if seq > below):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return Custody(
        exhibit_id=exhibit_id,
        stored_below=below,
        ranges=ranges[-MAX_CUSTODY_RANGES:],
        at=datetime.now(UTC),
    )


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
