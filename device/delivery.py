"""The agent's worker: the one thread that owns the outbox and talks to the link.

Everything reaches it through one queue: interactions from the inputs, link events
(connected, disconnected, PUBACK) from the link's threads, and requests (flush, barrier,
stop) from callers. Each turn it:

1. counts every interaction drained at once in one durable transaction,
   and deletes the records of every PUBACK drained at once;
2. seals the buckets whose time is up;
3. publishes sealed records as ``CountBatch`` messages (QoS 1) while fewer than
   ``inflight_window`` are unacknowledged;
4. sends a heartbeat when one is due.

When the connection drops, in-flight message ids are forgotten and everything still in
the outbox is sent again after reconnecting: duplicates are harmless (the fleet
deduplicates on seq), loss is not.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field

from broker.messages import MAX_PAYLOAD_BYTES, CountBatch, CountRecord, Heartbeat, Status
from broker.topics import Channel, exhibit_topic
from device import __version__
from device.clock import Clock
from device.config import AgentSettings
from device.events import Interaction
from device.health import HealthProbe
from device.link import Link, Publication
from device.outbox import Outbox

log = logging.getLogger(__name__)

MAX_IDLE_S = 0.1
"""The worker looks at the clock at least this often, even with nothing queued."""
MAX_DRAIN = 10_000
"""Queue items handled in one turn at most."""


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
class Acked:
    """The broker answered message ``mid`` of ``session``."""

    session: int
    mid: int
    accepted: bool


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

    def link_acked(self, session: int, mid: int, accepted: bool) -> None:
        """Enqueue Acked."""
        self._events.put(Acked(session, mid, accepted))


def status_message(
    settings: AgentSettings, *, online: bool, clock: Clock | None = None
) -> Publication:
    """The retained status: birth (online), explicit offline, or the last will (no clock)."""
    if clock is None:
        status = Status(exhibit_id=settings.exhibit_id, online=online)
    else:
        status = Status(
            exhibit_id=settings.exhibit_id,
            online=online,
            at=clock.wall(),
            boot_id=clock.boot_id(),
            agent_version=__version__,
            config_hash=settings.config_hash(),
            inputs=[spec.name for spec in settings.inputs],
        )
    topic = exhibit_topic(settings.exhibit_id, Channel.STATUS)
    return Publication(topic, status.to_payload(), qos=1, retain=True)


class Delivery:
    """The worker loop; ``run()`` is the thread's target and returns on a StopRequest."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        events: queue.SimpleQueue[object],
        outbox: Outbox,
        link: Link,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self._events = events
        self._outbox = outbox
        self._link = link
        self._clock = clock
        self._boot_id = clock.boot_id()
        self._health = HealthProbe(settings.data_dir)
        self._counts_topic = exhibit_topic(settings.exhibit_id, Channel.COUNTS)
        self._heartbeat_topic = exhibit_topic(settings.exhibit_id, Channel.HEARTBEAT)
        self.connected = threading.Event()
        self.finished = threading.Event()
        self.failure: BaseException | None = None
        self.depth = outbox.depth()
        self.recorded = 0
        self._session: int | None = None
        self._inflight: dict[int, list[int]] = {}
        self._sent_upto = 0
        self._unsent = True  # False once the outbox had nothing after _sent_upto
        self._next_due = outbox.next_due(self._boot_id)
        self._next_heartbeat = 0.0
        self._flush_waiters: list[tuple[int, threading.Event]] = []

    @property
    def in_flight(self) -> int:
        """Batches published and not yet acknowledged."""
        return len(self._inflight)

    def run(self) -> None:
        """Turn until stopped; an unexpected error is kept in ``failure``."""
        try:
            while True:
                stop = self._handle(self._take())
                if stop is not None and stop.abrupt:
                    return
                self._seal_due()
                self._pump()
                self._heartbeat()
                self._resolve_flushes()
                if stop is not None:
                    return
        except Exception as exc:
            log.exception("agent worker failed")
            self.failure = exc
        finally:
            self.connected.clear()
            self.finished.set()

    def _take(self) -> list[object]:
        now = self._clock.monotonic()
        waits = [MAX_IDLE_S]
        if self._next_due is not None:
            waits.append(self._next_due - now)
        if self._session is not None:
            waits.append(self._next_heartbeat - now)
        try:
            items = [self._events.get(timeout=max(0.0, min(waits)))]
        except queue.Empty:
            return []
        while len(items) < MAX_DRAIN:
            try:
                items.append(self._events.get_nowait())
            except queue.Empty:
                break
        return items

    def _handle(self, items: list[object]) -> StopRequest | None:
        counts: list[Interaction] = []
        acked: list[int] = []
        for item in items:
            if isinstance(item, Interaction):
                counts.append(item)
            elif isinstance(item, Acked):
                self._on_acked(item, acked)
            elif isinstance(item, LinkUp):
                self._on_up(item.session)
            elif isinstance(item, LinkDown):
                self._on_down(item)
            elif isinstance(item, Barrier | FlushRequest):
                self._commit(counts, acked)
                counts, acked = [], []
                if isinstance(item, FlushRequest):
                    self._sealed(self._outbox.seal_all())
                    self._flush_waiters.append((self._outbox.last_seq(), item.done))
                else:
                    item.done.set()
            elif isinstance(item, StopRequest):
                if not item.abrupt:
                    self._commit(counts, acked)
                return item
        self._commit(counts, acked)
        return None

    def _commit(self, counts: list[Interaction], acked: list[int]) -> None:
        if counts:
            self._outbox.add(counts, boot_id=self._boot_id, clock_synced=self._clock.synced())
            self.recorded += len(counts)
            self._next_due = self._outbox.next_due(self._boot_id)
        if acked:
            self.depth -= self._outbox.delete(acked)

    def _on_acked(self, ack: Acked, acked: list[int]) -> None:
        if ack.session != self._session:
            return  # an old connection's answer; its records are resent anyway
        seqs = self._inflight.pop(ack.mid, None)
        if seqs is None:
            return  # birth, heartbeat or status
        if ack.accepted:
            acked.extend(seqs)
        else:
            first, last = seqs[0], seqs[-1]
            log.error("broker refused records %d-%d; kept for the next connection", first, last)

    def _on_up(self, session: int) -> None:
        self._session = session
        self._inflight.clear()
        self._sent_upto = 0
        self._unsent = True
        self._next_heartbeat = self._clock.monotonic()
        self.connected.set()

    def _on_down(self, event: LinkDown) -> None:
        if event.session != self._session:
            return
        log.info("link down (%s); %d batch(es) to resend", event.reason, len(self._inflight))
        self._session = None
        self._inflight.clear()
        self._sent_upto = 0
        self.connected.clear()

    def _seal_due(self) -> None:
        now = self._clock.monotonic()
        if self._next_due is not None and now >= self._next_due:
            self._sealed(self._outbox.seal_due(boot_id=self._boot_id, now_mono=now))

    def _sealed(self, seqs: list[int]) -> None:
        self.depth += len(seqs)
        self._unsent = self._unsent or bool(seqs)
        self._next_due = self._outbox.next_due(self._boot_id)

    def _pump(self) -> None:
        limit = self.settings.batch_max_records
        while self._session is not None and len(self._inflight) < self.settings.inflight_window:
            if not self._unsent:
                return  # saves a query per idle turn
            records = self._outbox.pending(limit, after_seq=self._sent_upto)
            if not records:
                self._unsent = False
                return
            records, payload = self._encode(records)
            mid = self._link.publish(self._session, Publication(self._counts_topic, payload))
            if mid is None:
                return  # the session is gone; its LinkDown is on its way
            if mid in self._inflight:
                log.warning("message id %d reused while in flight; its records will be resent", mid)
            self._inflight[mid] = [record.seq for record in records]
            self._sent_upto = records[-1].seq

    def _encode(self, records: list[CountRecord]) -> tuple[list[CountRecord], bytes]:
        while True:
            batch = CountBatch(
                exhibit_id=self.settings.exhibit_id, sent_at=self._clock.wall(), records=records
            )
            payload = batch.to_payload()
            if len(payload) <= MAX_PAYLOAD_BYTES or len(records) == 1:
                return records, payload
            records = records[: len(records) // 2]

    def _heartbeat(self) -> None:
        now = self._clock.monotonic()
        if self._session is None or now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.settings.heartbeat_seconds
        health = self._health.sample()
        beat = Heartbeat(
            exhibit_id=self.settings.exhibit_id,
            at=self._clock.wall(),
            boot_id=self._boot_id,
            uptime_s=max(now, 0.0),
            clock_synced=self._clock.synced(),
            outbox_depth=max(self.depth, 0),
            cpu_temp_c=health.cpu_temp_c,
            under_voltage=health.under_voltage,
            throttled=health.throttled,
            disk_free_bytes=health.disk_free_bytes,
            mem_available_bytes=health.mem_available_bytes,
            wifi_signal_dbm=health.wifi_signal_dbm,
        )
        message = Publication(self._heartbeat_topic, beat.to_payload(), qos=0)
        self._link.publish(self._session, message)

    def _resolve_flushes(self) -> None:
        if not self._flush_waiters:
            return
        oldest = self._outbox.oldest_seq()
        waiting = []
        for target, done in self._flush_waiters:
            if oldest is None or oldest > target:
                done.set()
            else:
                waiting.append((target, done))
        self._flush_waiters = waiting
