"""The ingestion task: batch what the source delivers, commit it, then ack it.

A :class:`MessageSource` delivers from its own thread; :meth:`Ingestor.deliver` hands
each message to the event loop with ``call_soon_threadsafe``. The task takes what is
waiting (up to ``batch_max``, lingering ``batch_wait`` for more), writes the batch in
one transaction in a worker thread, and acks each message only after the commit. So
a crash at any point leaves a message either unacked (the broker redelivers it and
the (exhibit_id, seq) key makes the replay change nothing) or stored and acked.

After the commit, and before the acks, each exhibit that sent records in the batch is
told what the fleet now holds of it (one ``Custody`` message per exhibit per batch, QoS
1, not waited for: :mod:`fleet_api.store.custody`). Only that makes the exhibit stop
resending: the broker's PUBACK to it is no custody, since Mosquitto loses what it
acknowledged since its last snapshot when it is killed. A custody message that is lost
costs a resend, which this answers again (duplicates change nothing).

Failures, by whose fault they are (:func:`fault`):

- the database is unreachable (connection refused, dropped, locked): the batch waits,
  retried with backoff for as long as it takes, and nothing is acked meanwhile; the
  broker stops sending once ``ingest_inflight_max`` are unacked. Not the data's fault;
- the database refuses the data itself (a constraint, a value): the batch is split and
  only the message it refuses is quarantined (``storage_rejected``);
- anything else (a bug the message triggers): retried ``error_retries`` times, then the
  batch is split, each message tried alone, and the one that still fails is quarantined
  alone as ``storage_error`` with the error's first line. Ingestion moves on: one
  message can never block every exhibit. Each failure is counted
  (``unexpected_errors``), the set-aside logged with its traceback, and the Prometheus
  rule ``FleetIngestMessageSetAside`` raises an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import partial

from sqlalchemy import Engine
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)

from broker.messages import Custody, utc_now
from broker.topics import Channel, exhibit_topic
from fleet_api.command_clearing import clear_done
from fleet_api.inbound import Inbound, MessageSource, QuarantineReason
from fleet_api.models.service import IngestStatsPublic, QuarantineStatsPublic
from fleet_api.store.ingest import BatchOutcome, write_batch, write_rejected

log = logging.getLogger(__name__)

Writer = Callable[[Engine, Sequence[Inbound]], BatchOutcome]
Rejecter = Callable[..., BatchOutcome]
"""``write_rejected``'s signature: (engine, message, *, reason, detail)."""
RETRY_MIN_S = 0.1
RETRY_MAX_S = 5.0
DEFAULT_ERROR_RETRIES = 3


class Fault(Enum):
    """Whose fault a failed write is, which decides what ingestion does next."""

    UNREACHABLE = "the database is unreachable"
    DATA = "the database refuses the data"
    UNEXPECTED = "unexpected"


@dataclass
class IngestStats:
    """Counters since start, read by ``GET /ingest/stats`` and ``GET /metrics``."""

    enabled: bool = False
    messages: int = 0
    batches: int = 0
    records_received: int = 0
    records_inserted: int = 0
    acked: int = 0
    custody_sent: int = 0
    storage_errors: int = 0
    unexpected_errors: int = 0
    conflicts: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    quarantine_dropped: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: BatchOutcome) -> None:
        """Count one stored batch."""
        self.batches += 1
        self.messages += outcome.messages
        self.records_received += outcome.records_received
        self.records_inserted += outcome.records_inserted
        self.conflicts += outcome.conflicts
        self.quarantined.update(outcome.quarantined)
        self.quarantine_dropped.update(outcome.quarantine_dropped)

    def public(
        self, *, connected: bool, quarantine: QuarantineStatsPublic | None = None
    ) -> IngestStatsPublic:
        """The counters as the API shows them, every known quarantine reason included."""
        reasons = dict.fromkeys((str(reason) for reason in QuarantineReason), 0)
        reasons.update(self.quarantined)
        return IngestStatsPublic(
            enabled=self.enabled,
            connected=connected,
            messages=self.messages,
            batches=self.batches,
            records_received=self.records_received,
            records_inserted=self.records_inserted,
            records_duplicate=self.records_received - self.records_inserted,
            acked=self.acked,
            custody_sent=self.custody_sent,
            storage_errors=self.storage_errors,
            unexpected_errors=self.unexpected_errors,
            conflicts=self.conflicts,
            quarantined=reasons,
            quarantine=quarantine or QuarantineStatsPublic(),
        )


class Ingestor:
    """Runs ingestion from ``source`` into ``engine`` as an asyncio task."""

    def __init__(
        self,
        *,
        engine: Engine,
        source: MessageSource,
        batch_max: int = 500,
        batch_wait_s: float = 0.005,
        stop_timeout_s: float = 10.0,
        stats: IngestStats | None = None,
        writer: Writer = write_batch,
        rejecter: Rejecter = write_rejected,
        error_retries: int = DEFAULT_ERROR_RETRIES,
        on_batch: Callable[[float], None] | None = None,
        custody: bool = True,
        publish_timeout_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.source = source
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.stop_timeout_s = stop_timeout_s
        self.stats = stats or IngestStats()
        self.stats.enabled = True
        self._writer = writer
        self._rejecter = rejecter
        self.error_retries = error_retries
        self._on_batch = on_batch
        self._custody = custody
        self._publish_timeout_s = publish_timeout_s
        self._queue: asyncio.Queue[Inbound | None] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether the source is connected to the broker."""
        return self.source.connected

    def start(self) -> None:
        """Start the task and the source; call from the event loop."""
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="fleet-ingest")
        self.source.start(self.deliver)

    def deliver(self, message: Inbound) -> None:
        """Hand ``message`` to the event loop; safe from any thread, never blocks."""
        if self._loop is None:
            raise RuntimeError("Ingestor.deliver before start()")
        # After shutdown the loop is closed: dropping the message is right, it was not
        # acked, so the broker delivers it again next time.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, message)

    async def stop(self) -> None:
        """Finish (store and ack) the batch in hand, then disconnect the source."""
        task, self._task = self._task, None
        if task is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.stop_timeout_s)
        except TimeoutError:
            log.warning(
                "ingestion did not finish within %.1fs; unacked messages will be redelivered",
                self.stop_timeout_s,
            )
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            await asyncio.to_thread(self.source.stop)

    async def _run(self) -> None:
        while True:
            batch, stopping = await self._gather()
            if batch:
                await self._store_and_ack(batch)
            if stopping:
                return

    async def _gather(self) -> tuple[list[Inbound], bool]:
        first = await self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        stopping = self._drain(batch)
        if not stopping and len(batch) < self.batch_max and self.batch_wait_s > 0:
            # Linger briefly: many small messages make one transaction instead of many.
            await asyncio.sleep(self.batch_wait_s)
            stopping = self._drain(batch)
        return batch, stopping

    def _drain(self, batch: list[Inbound]) -> bool:
        """Move waiting messages into ``batch``; True if the stop marker was reached."""
        while len(batch) < self.batch_max:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return False
            if item is None:
                return True
            batch.append(item)
        return False

    async def _store_and_ack(self, batch: list[Inbound]) -> None:
        started = time.perf_counter()
        await self._write_and_ack(batch)
        if self._on_batch is not None:
            self._on_batch(time.perf_counter() - started)

    async def _write_and_ack(self, batch: list[Inbound]) -> None:
        result = await self._until_written(partial(self._writer, self.engine, batch))
        if isinstance(result, BatchOutcome):
            self._done(batch, result)
            await self._clear_commands(result)
            return
        log.warning(
            "a batch of %d could not be stored (%s); storing its messages one by one",
            len(batch),
            _first_line(result),
        )
        for message in batch:
            single = await self._until_written(partial(self._writer, self.engine, [message]))
            if not isinstance(single, BatchOutcome):
                data = fault(single) is Fault.DATA
                reason = (
                    QuarantineReason.STORAGE_REJECTED if data else QuarantineReason.STORAGE_ERROR
                )
                if not data:
                    log.error(
                        "set aside a message on %s as storage_error: storing it failed %d "
                        "times unexpectedly (%s)",
                        message.topic,
                        self.error_retries + 1,
                        _first_line(single),
                        exc_info=single,
                    )
                single = await self._until_written(
                    partial(
                        self._rejecter,
                        self.engine,
                        message,
                        reason=reason,
                        detail=f"{type(single).__name__}: {_first_line(single)}",
                    )
                )
            if isinstance(single, BatchOutcome):
                self._done([message], single)
                await self._clear_commands(single)
            else:  # pragma: no cover - a quarantine row is plain text and bytes
                log.error("cannot even quarantine a message on %s: %s", message.topic, single)

    async def _until_written(self, write: Callable[[], BatchOutcome]) -> BatchOutcome | Exception:
        """Run ``write`` until it works while the database is away; the exception if the data
        is at fault, or if it failed unexpectedly ``error_retries`` + 1 times."""
        delay = RETRY_MIN_S
        unexpected = 0
        while True:
            try:
                return await asyncio.to_thread(write)
            except Exception as exc:  # noqa: BLE001 - nothing may stop ingestion; see below
                kind = fault(exc)
                if kind is Fault.DATA:
                    return exc
                if kind is Fault.UNREACHABLE:
                    self.stats.storage_errors += 1
                else:
                    self.stats.unexpected_errors += 1
                    unexpected += 1
                    if unexpected > self.error_retries:
                        return exc
                # The database is away, or an error that may pass: keep the batch unacked
                # and retry, so the broker keeps the messages; log and counters show it.
                log.warning(
                    "storing failed (%s), retrying in %.1fs: %s",
                    kind.value,
                    delay,
                    _first_line(exc),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _clear_commands(self, outcome: BatchOutcome) -> None:
        """Delete the retained commands whose exhibits reported them done (after the commit)."""
        if not outcome.done_commands:
            return
        try:
            await asyncio.to_thread(
                clear_done,
                self.engine,
                self.source,
                outcome.done_commands,
                timeout_s=self._publish_timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - a failed clear must not stop ingestion
            # The reports are stored and acked; the commands expire by themselves.
            log.warning("clearing retained commands failed: %s", _first_line(exc))

    def _done(self, batch: Sequence[Inbound], outcome: BatchOutcome) -> None:
        self.stats.add(outcome)
        if self._custody and outcome.custody:
            at = utc_now()
            for exhibit_id, stored in outcome.custody.items():
                custody = Custody(
                    exhibit_id=exhibit_id,
                    stored_below=stored.below,
                    ranges=[(r.first, r.last) for r in stored.ranges],
                    at=at,
                )
                self.source.send(exhibit_topic(exhibit_id, Channel.CUSTODY), custody.to_payload())
            self.stats.custody_sent += len(outcome.custody)
        for message in batch:
            self.source.ack(message)
        self.stats.acked += len(batch)


def fault(exc: Exception) -> Fault:
    """Whose fault a failed write is: the database's absence, the data's, or nobody's known."""
    if isinstance(exc, IntegrityError | DataError):
        return Fault.DATA
    if isinstance(exc, OperationalError | InterfaceError):
        return Fault.UNREACHABLE  # refused, dropped, timed out, locked: it may come back
    if isinstance(exc, DBAPIError):
        return Fault.UNREACHABLE if exc.connection_invalidated else Fault.UNEXPECTED
    if isinstance(exc, StatementError):
        return Fault.DATA  # binding a value failed before it reached the database
    if isinstance(exc, ConnectionError | TimeoutError):
        return Fault.UNREACHABLE
    return Fault.UNEXPECTED


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
