"""Custody on the Pi: records leave the outbox only once the fleet stored them, and stay a while.

The broker's PUBACK is not custody: Mosquitto keeps what it acknowledged in memory until
its next persistence snapshot, so a kill -9 or a power cut of the server loses it. A
record therefore stays in ``records`` (pending) until a ``Custody`` message from the fleet
says it is stored (``confirm``): then it moves to ``retained`` with the fleet's commit
time, and is kept there for ``retention_days`` (by the fleet's clock, the last one heard:
a Pi's own clock may be days off), bounded by a disk budget. A ``Resend`` (a fleet
restored from last night's backup) moves retained records back to pending
(``requeue``), and they go out again until the fleet confirms them again.

Only records already handed to the broker (at or below ``published_upto``) can be
confirmed: a custody message naming any other seq is not about these records (an outbox
re-provisioned under the same exhibit id), and is ignored for them.

With ``EXHIBIT_CUSTODY=broker`` (a fleet that sends no custody messages), the PUBACK
confirms instead, as before; everything else is the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from broker.errors import MessageError
from broker.topics import Channel
from device.outbox.store import Outbox
from device.wire.codec import decode_inbound
from device.wire.custody import Custody

log = logging.getLogger(__name__)

Span = tuple[int, int]
PRUNE_CHUNK = 1000
"""Retained records deleted per statement when the outbox is over its disk budget."""


def coverage(stored_below: int, ranges: Iterable[Span], *, upto: int) -> list[Span]:
    """The seqs a custody statement covers, clipped to ``upto``, as sorted disjoint spans."""
    spans: list[Span] = []
    if stored_below > 1:
        spans.append((1, min(stored_below - 1, upto)))
    spans += [(first, min(last, upto)) for first, last in ranges]
    return merge_spans(span for span in spans if span[0] <= span[1])


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Overlapping and adjacent spans merged, sorted."""
    merged: list[Span] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def spans_of(seqs: Iterable[int]) -> list[Span]:
    """The maximal spans of some seqs."""
    return merge_spans((seq, seq) for seq in seqs)


def stated_custody(
    payloads: Iterable[bytes], *, exhibit_id: str, upto: int
) -> tuple[list[Span], float | None]:
    """What custody messages cover of the records up to ``upto``, and the latest commit time.

    A message that does not decode, or names another exhibit, is logged and ignored.
    """
    spans: list[Span] = []
    latest: float | None = None
    for payload in payloads:
        try:
            message = decode_inbound(Channel.CUSTODY, payload)
        except MessageError as exc:
            log.warning("ignoring a custody message: %s", exc)
            continue
        if not isinstance(message, Custody) or message.exhibit_id != exhibit_id:
            log.warning("ignoring a custody message for another exhibit")
            continue
        spans += coverage(message.stored_below, message.ranges, upto=upto)
        at = message.at.timestamp()
        latest = at if latest is None else max(latest, at)
    return merge_spans(spans), latest


def _where(spans: Sequence[Span]) -> tuple[str, list[int]]:
    clauses = " OR ".join("seq BETWEEN ? AND ?" for _ in spans)
    return f"({clauses})", [bound for span in spans for bound in span]


class Retention:
    """The outbox's confirmed records (see the module docstring); used by the worker only."""

    def __init__(self, outbox: Outbox, *, days: float, max_bytes: int) -> None:
        self._outbox = outbox
        self.days = days
        self.max_bytes = max_bytes
        self.held = int(outbox.db.execute("SELECT COUNT(*) FROM retained").fetchone()[0])
        self.fleet_time: float | None = outbox.meta("fleet_time")
        self._over_budget_logged = False

    def confirm(self, spans: Sequence[Span], *, at: float) -> list[int]:
        """Move the pending records within ``spans`` to ``retained``; return their seqs.

        ``at`` is when the fleet stored them (seconds since the epoch, its clock).
        """
        if not spans:
            return []
        where, params = _where(spans)
        db = self._outbox.db
        with self._outbox.transaction():
            seqs = [row[0] for row in db.execute(f"SELECT seq FROM records WHERE {where}", params)]
            if seqs:
                if self.days > 0:
                    db.execute(
                        "INSERT OR REPLACE INTO retained (seq, kind, body, confirmed_at) "
                        f"SELECT seq, kind, body, ? FROM records WHERE {where}",
                        [at, *params],
                    )
                db.execute(f"DELETE FROM records WHERE {where}", params)
                self._outbox.set_meta("last_ack_at", _iso(at))
            if self.fleet_time is None or at > self.fleet_time:
                self.fleet_time = at
                self._outbox.set_meta("fleet_time", at)
        if self.days > 0:
            self.held += len(seqs)
        return seqs

    def requeue(self, from_seq: int) -> int:
        """Make the retained records from ``from_seq`` on pending again; return how many."""
        db = self._outbox.db
        with self._outbox.transaction():
            db.execute(
                "INSERT OR IGNORE INTO records (seq, kind, body) "
                "SELECT seq, kind, body FROM retained WHERE seq >= ?",
                (from_seq,),
            )
            moved = db.execute("DELETE FROM retained WHERE seq >= ?", (from_seq,)).rowcount
        self.held -= moved
        return int(moved)

    def resend(self, from_seq: int) -> int:
        """``requeue(from_seq)``, saying when records the fleet asked for are gone."""
        moved = self.requeue(from_seq)
        held = self.oldest()
        if held is None or held > from_seq:
            log.warning(
                "the fleet asked for the records from seq %d; this exhibit holds none %s",
                from_seq,
                "at all" if held is None else f"below {held} any more (past their retention)",
            )
        log.info("sending %d confirmed record(s) from seq %d again", moved, from_seq)
        return moved

    def oldest(self) -> int | None:
        """The lowest seq still held, pending or retained: a resend can start there."""
        row = self._outbox.db.execute(
            "SELECT MIN(seq) FROM (SELECT MIN(seq) AS seq FROM records "
            "UNION ALL SELECT MIN(seq) FROM retained)"
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def prune(self) -> int:
        """Drop what is past ``days`` (by the fleet's clock) or over the budget; how many."""
        db = self._outbox.db
        dropped = 0
        if self.fleet_time is not None and self.held:
            cutoff = self.fleet_time - self.days * 86_400
            with self._outbox.transaction():
                dropped = db.execute(
                    "DELETE FROM retained WHERE confirmed_at < ?", (cutoff,)
                ).rowcount
        while self.held - dropped > 0 and self.live_bytes() > self.max_bytes:
            with self._outbox.transaction():
                dropped += db.execute(
                    "DELETE FROM retained WHERE seq IN "
                    "(SELECT seq FROM retained ORDER BY seq LIMIT ?)",
                    (PRUNE_CHUNK,),
                ).rowcount
            if not self._over_budget_logged:
                self._over_budget_logged = True
                log.warning(
                    "the outbox is over its budget of %.0f MB: dropping the oldest confirmed "
                    "records (raise EXHIBIT_RETENTION_MAX_MB to keep more)",
                    self.max_bytes / 1e6,
                )
        self.held -= dropped
        return dropped

    def live_bytes(self) -> int:
        """Bytes of the outbox file in use (pages not on the free list)."""
        db = self._outbox.db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
