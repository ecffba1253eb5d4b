"""Backlog replay: sealed records go out as ``CountBatch`` messages through a bounded window.

Records leave in seq order, up to ``batch_max_records`` per message (and never more than
``MAX_PAYLOAD_BYTES``: a bigger payload would loop forever with paho v5 or vanish with
3.1.1), with at most ``inflight_window`` messages in the window. A batch is the stored
exact JSON of its records joined, so a resend is byte-identical and costs no parsing.
Before a batch is handed to the link, ``published_upto`` is moved past it (one durable
write per pump): from then on those records are frozen (see ``device.outbox.store``).

A message leaves the window when the fleet confirms every record of it (``confirmed``,
from its custody messages: ``device.outbox.retention``), not at the broker's PUBACK, which only
starts its custody timeout: a message the broker took but the fleet has not confirmed
``custody_timeout_s`` later (a broker crash lost it, or it waits for an ingest worker
that is dead) is sent again, with everything after it, in seq order from the oldest
unconfirmed record. Without any confirmation the timeout doubles each time, up to
``custody_timeout_max_s`` (the fleet is down: the broker's queue for it need not fill
with copies); any confirmation sets it back. The window also bounds what waits for the
fleet in the broker's queue: ``inflight_window`` messages per exhibit. With
``EXHIBIT_CUSTODY=broker`` the PUBACK confirms, as before custody existed.

A week offline (about 6,300 records at one bucket per input per minute, 7 hours a day,
3 inputs) is 13 messages of 500: the window holds them all at once, so the drain costs
one round trip plus the broker's and the fleet's commit time.

PUBACK reason codes below 0x80 mean delivered (0x10, "no matching subscribers", too).
A refusal (0x87 "not authorised": the ACL does not let this account publish here) keeps
the records and pauses sending with an exponential backoff, resending from the oldest
record after the pause; reconnecting would not help, so the link is left up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from broker.limits import MAX_PAYLOAD_BYTES
from broker.topics import Channel, exhibit_topic
from device.core.clock import Clock
from device.core.events import Acked
from device.link.base import Link, Publication
from device.outbox.store import Outbox
from device.settings.config import AgentSettings
from device.wire.values import format_time

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Batch:
    """A published message in the window: its seqs, those not yet confirmed, its PUBACK."""

    seqs: list[int]
    unconfirmed: set[int]
    mid: int | None  # None once the broker answered
    acked_at: float | None = None  # monotonic time of the PUBACK


class Sender:
    """The publishing half of the worker: window, batches, acknowledgements, refusals."""

    def __init__(
        self, settings: AgentSettings, *, outbox: Outbox, link: Link, clock: Clock
    ) -> None:
        self.settings = settings
        self._outbox = outbox
        self._link = link
        self._clock = clock
        self._topic = exhibit_topic(settings.exhibit_id, Channel.COUNTS)
        self.session: int | None = None
        self._fleet_custody = settings.custody == "fleet"
        self._window: list[_Batch] = []
        self._inflight: dict[int, _Batch] = {}  # by message id, until the PUBACK
        self._others: dict[int, Callable[[], None]] = {}
        self._sent_upto = 0
        self._unsent = True  # False once the outbox had nothing after _sent_upto
        self._paused_until: float | None = None
        self._pause_s = settings.reconnect_min_s
        self._custody_timeout_s = settings.custody_timeout_s
        self.refusal: str | None = None  # the broker's last refusal, until a batch is accepted
        self.resends = 0  # times the window was sent again for want of custody

    @property
    def in_flight(self) -> int:
        """Batches published and not yet confirmed (by the fleet, or the broker)."""
        return len(self._window)

    def up(self, session: int) -> None:
        """A new connection: everything unconfirmed goes out again from the oldest."""
        self.session = session
        self._others.clear()
        self.rewind()

    def down(self, session: int) -> bool:
        """The connection ``session`` ended; False if it was not the live one."""
        if session != self.session:
            return False
        log.info("link down; %d batch(es) to resend", len(self._window))
        self.session = None
        self._others.clear()
        self.rewind()
        return True

    def rewind(self) -> None:
        """Start over from the oldest unconfirmed record (answers to earlier sends are ignored)."""
        self._window.clear()
        self._inflight.clear()
        self._sent_upto = 0
        self._unsent = True

    def confirmed(self, seqs: Iterable[int]) -> None:
        """The fleet confirmed ``seqs``: messages all of whose records are confirmed leave."""
        done = set(seqs)
        if not done:
            return
        self._custody_timeout_s = self.settings.custody_timeout_s
        kept = []
        for batch in self._window:
            batch.unconfirmed -= done
            if batch.unconfirmed:
                kept.append(batch)
            elif batch.mid is not None:
                self._inflight.pop(batch.mid, None)
        if len(kept) < len(self._window):
            self._unsent = True  # room in the window
        self._window = kept

    def sealed(self) -> None:
        """New records were sealed: there is something to send."""
        self._unsent = True

    def acked(self, ack: Acked) -> list[int]:
        """Handle a PUBACK; the seqs it confirms (``EXHIBIT_CUSTODY=broker`` only)."""
        if ack.session != self.session:
            return []  # an old connection's answer; its records are resent anyway
        other = self._others.pop(ack.mid, None)
        if other is not None:
            if ack.accepted:
                other()
            else:
                log.error(
                    "broker refused a message (%s); it is sent again after reconnecting", ack.reason
                )
            return []
        batch = self._inflight.pop(ack.mid, None)
        if batch is None:
            return []  # birth, heartbeat or status, or a message sent before a rewind
        batch.mid = None
        if ack.accepted:
            self.refusal = None
            self._pause_s = self.settings.reconnect_min_s
            if not self._fleet_custody:
                self.confirmed(batch.seqs)
                return batch.seqs
            batch.acked_at = self._clock.monotonic()
            return []
        self._window.remove(batch)
        self._refused(batch.seqs, ack.reason)
        return []

    def _refused(self, seqs: list[int], reason: str) -> None:
        self.refusal = reason or "refused"
        pause = self._pause_s
        self._pause_s = min(self._pause_s * 2, self.settings.reconnect_max_s)
        self._paused_until = self._clock.monotonic() + pause
        log.error(
            "broker refused records %d-%d (%s); kept, retrying in %.1fs: check that the "
            "broker's ACL lets %s publish on %s",
            seqs[0],
            seqs[-1],
            self.refusal,
            pause,
            self.settings.username or self.settings.exhibit_id,
            self._topic,
        )

    def publish_other(self, message: Publication, on_delivered: Callable[[], None]) -> bool:
        """Publish a message of another channel; ``on_delivered`` runs on its PUBACK."""
        if self.session is None:
            return False
        mid = self._link.publish(self.session, message)
        if mid is None:
            return False
        self._others[mid] = on_delivered
        return True

    def publish_untracked(self, message: Publication) -> None:
        """Publish a message nobody waits for (the QoS 0 heartbeat)."""
        if self.session is not None:
            self._link.publish(self.session, message)

    def pump(self) -> None:
        """Publish records while the window has room and the broker is not refusing."""
        if self.session is None:
            return
        self._custody_overdue()
        if not self._ready():
            return
        batches: list[tuple[list[int], bytes]] = []
        after = self._sent_upto
        while len(self._window) + len(batches) < self.settings.inflight_window:
            rows = self._outbox.pending_bodies(self.settings.batch_max_records, after_seq=after)
            if not rows:
                self._unsent = False
                break
            seqs, payload = self._encode(rows)
            batches.append((seqs, payload))
            after = seqs[-1]
        if not batches:
            return
        self._outbox.mark_published(after)  # durable before any byte leaves
        for seqs, payload in batches:
            mid = self._link.publish(self.session, Publication(self._topic, payload))
            if mid is None:
                return  # the session is gone; its LinkDown is on its way
            if mid in self._inflight:
                log.warning("message id %d reused while in flight; its records will be resent", mid)
            batch = _Batch(seqs, set(seqs), mid)
            self._window.append(batch)
            self._inflight[mid] = batch
            self._sent_upto = seqs[-1]

    def _custody_overdue(self) -> None:
        """Send everything unconfirmed again once the broker's oldest PUBACK is too old."""
        taken = [batch.acked_at for batch in self._window if batch.acked_at is not None]
        if not taken or self._clock.monotonic() - min(taken) < self._custody_timeout_s:
            return
        log.warning(
            "the fleet has not confirmed records from %d within %.0fs of the broker taking "
            "them: sending everything unconfirmed again, in order",
            self._window[0].seqs[0],
            self._custody_timeout_s,
        )
        self.resends += 1
        self._custody_timeout_s = min(
            2 * self._custody_timeout_s, self.settings.custody_timeout_max_s
        )
        self.rewind()

    def _ready(self) -> bool:
        if self._paused_until is not None:
            if self._clock.monotonic() < self._paused_until:
                return False
            if self._inflight:
                return False  # let the broker answer what is out, then start from the oldest
            self._paused_until = None
            self.rewind()
        return self._unsent

    def _encode(self, rows: list[tuple[int, str]]) -> tuple[list[int], bytes]:
        head = (
            f'{{"schema_version":1,"exhibit_id":{json.dumps(self.settings.exhibit_id)},'
            f'"sent_at":"{format_time(self._clock.wall())}","records":['
        )
        size = len(head) + 2
        taken = 0
        for _seq, body in rows:
            size += len(body) + 1
            if size > MAX_PAYLOAD_BYTES and taken:
                break
            taken += 1
        rows = rows[:taken]
        payload = head + ",".join(body for _seq, body in rows) + "]}"
        return [seq for seq, _body in rows], payload.encode()
