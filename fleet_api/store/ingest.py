"""Write one batch of received messages in one transaction; idempotent on (exhibit_id, seq).

The caller acks the messages to the broker only after :func:`write_batch` returned, so
everything here is committed before any message is acknowledged. A redelivered batch
inserts nothing (``ON CONFLICT DO NOTHING``), and :class:`BatchOutcome` counts only the
rows actually inserted: that is the number a rollup may add, never the number received.

Records are placed (corrected time, visit), rolled up and their seqs merged into the
received ranges in the same transaction (:mod:`fleet_api.store.records`). The exhibits
of the batch are locked first, in id order: two ingest workers (or a worker and a
visit being scheduled) then never interleave on one exhibit's ranges, clock
references and re-attribution, and cannot deadlock on each other.

Each record is judged on its own (:mod:`fleet_api.plausibility`): one no Pi can have
(a time out of range, a seq far past the exhibit's highest) is set aside with its
reason and the rest of its message is stored. A record reusing a stored seq with
another body is a conflict (:mod:`fleet_api.store.conflicts`). Whatever is set aside
goes to the bounded quarantine (:mod:`fleet_api.store.quarantine_bounds`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from broker.errors import TopicError
from broker.messages import (
    CommandDone,
    ConfigReport,
    CountBatch,
    Heartbeat,
    SelfTestResult,
    Status,
    utc_now,
)
from broker.topics import Channel, parse
from fleet_api import plausibility
from fleet_api.inbound import Inbound, QuarantineReason
from fleet_api.record_rows import RecordBatch, read_counts, rows_of
from fleet_api.settings import Settings
from fleet_api.store import conflicts, seq_ranges
from fleet_api.store.commands import DoneCommand, store_outcomes, store_self_tests
from fleet_api.store.configs import store_reports
from fleet_api.store.custody import Stored, batch_seqs, custody_of
from fleet_api.store.dialect import insert
from fleet_api.store.heartbeats import DEFAULT_HISTORY_DAYS, store_heartbeats
from fleet_api.store.quarantine_bounds import QuarantineBounds, ToQuarantine, keep
from fleet_api.store.records import Received, store_records
from fleet_api.tables import exhibit_status, exhibits
from fleet_api.triage import Accepted, Rejected, triage


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """``FLEET_INGEST_MAX_SEQ_JUMP`` and the quarantine's bounds."""

    max_seq_jump: int = plausibility.DEFAULT_MAX_SEQ_JUMP
    quarantine: QuarantineBounds = field(default_factory=QuarantineBounds)


def ingest_limits(settings: Settings) -> IngestLimits:
    """The limits the settings give."""
    return IngestLimits(
        max_seq_jump=settings.ingest_max_seq_jump,
        quarantine=QuarantineBounds(
            per_exhibit_per_hour=settings.quarantine_per_exhibit_per_hour,
            max_bytes=int(settings.quarantine_max_mb * 1024 * 1024),
            retention=timedelta(days=settings.quarantine_retention_days),
        ),
    )


@dataclass
class BatchOutcome:
    """What one batch did to the database."""

    messages: int = 0
    records_received: int = 0
    records_inserted: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    """Messages kept in the quarantine, by reason."""
    quarantine_dropped: Counter[str] = field(default_factory=Counter)
    """Quarantine rows not kept or removed to hold a bound: ``rate``, ``size``."""
    conflicts: int = 0
    """Records that reused a stored seq with another body."""
    custody: dict[str, Stored] = field(default_factory=dict)
    """What is stored of each exhibit that sent records, once this batch is committed."""
    done_commands: list[DoneCommand] = field(default_factory=list)
    """Commands whose exhibits reported them done in this batch: to clear once committed."""

    @property
    def records_duplicate(self) -> int:
        """Records already stored before (redeliveries and replays)."""
        return self.records_received - self.records_inserted


@dataclass(frozen=True, slots=True)
class ReadCounts:
    """A CountBatch read straight to rows (:mod:`fleet_api.record_rows`), from its own topic."""

    inbound: Inbound
    batch: RecordBatch

    @property
    def exhibit_id(self) -> str:
        """The exhibit that sent it."""
        return self.batch.exhibit_id


Sorted = Accepted | Rejected | ReadCounts


def write_batch(
    engine: Engine,
    messages: Sequence[Inbound],
    *,
    history_days: float = DEFAULT_HISTORY_DAYS,
    limits: IngestLimits | None = None,
) -> BatchOutcome:
    """Triage and store ``messages`` in one committed transaction."""
    sorted_out = [sort(message) for message in messages]
    with engine.begin() as connection:
        return store_triaged(connection, sorted_out, history_days=history_days, limits=limits)


def sort(inbound: Inbound) -> Sorted:
    """:func:`fleet_api.triage.triage`, reading canonical count batches without a model.

    Whatever :func:`fleet_api.record_rows.read_counts` leaves (anything not in our agents'
    exact form, valid or not) goes through the model, so the outcome and the quarantine
    reasons are triage's.
    """
    try:
        topic = parse(inbound.topic)
    except TopicError:
        return triage(inbound)
    if topic.channel is Channel.COUNTS:
        batch = read_counts(inbound.payload)
        if batch is not None and batch.exhibit_id == topic.exhibit_id:
            return ReadCounts(inbound, batch)
    return triage(inbound)


def write_rejected(
    engine: Engine,
    message: Inbound,
    *,
    reason: str,
    detail: str,
    limits: IngestLimits | None = None,
) -> BatchOutcome:
    """Quarantine one message on its own (storing it failed inside a batch)."""
    with engine.begin() as connection:
        return store_triaged(connection, [Rejected(message, reason, detail)], limits=limits)


def store_triaged(
    connection: Connection,
    sorted_out: Sequence[Sorted],
    *,
    history_days: float = DEFAULT_HISTORY_DAYS,
    limits: IngestLimits | None = None,
) -> BatchOutcome:
    """Store accepted messages of registered exhibits, quarantine the rest; no commit."""
    limits = limits or IngestLimits()
    outcome = BatchOutcome(messages=len(sorted_out))
    accepted = [item for item in sorted_out if not isinstance(item, Rejected)]
    aside = [
        ToQuarantine(item.inbound, item.reason, item.detail)
        for item in sorted_out
        if isinstance(item, Rejected)
    ]
    registered = _registered(connection, {_exhibit_of(item) for item in accepted})
    stored: list[Accepted | ReadCounts] = []
    for item in accepted:
        problem = None
        if isinstance(item, Accepted) and not isinstance(item.message, CountBatch):
            problem = plausibility.message_problem(item.message)
        if _exhibit_of(item) not in registered:
            aside.append(
                ToQuarantine(
                    item.inbound,
                    QuarantineReason.UNKNOWN_EXHIBIT,
                    f"exhibit {_exhibit_of(item)!r} is not registered: "
                    "register it with POST /exhibits (until then its messages are kept here)",
                )
            )
        elif problem is not None:
            aside.append(ToQuarantine(item.inbound, QuarantineReason.OUT_OF_RANGE, problem))
        else:
            stored.append(item)
    received, origins = _judged(connection, stored, limits, aside)
    records = store_records(connection, received)
    outcome.records_received, outcome.records_inserted = records.received, records.inserted
    if records.conflicts:
        now = max(item.received_at for item in origins)
        conflicts.count(connection, records.conflicts, at=now)
        outcome.conflicts = len(records.conflicts)
        by_origin: dict[int, list[conflicts.Conflict]] = {}
        for conflict in records.conflicts:
            by_origin.setdefault(conflict.origin, []).append(conflict)
        for origin, found in sorted(by_origin.items()):
            aside.append(
                ToQuarantine(
                    origins[origin],
                    QuarantineReason.CONFLICT,
                    conflicts.describe(found),
                    stored=conflicts.as_json(found),
                )
            )
    sent = batch_seqs(message for message, _at in received if isinstance(message, RecordBatch))
    outcome.custody = custody_of(connection, sent)
    messages = [item for item in stored if isinstance(item, Accepted)]
    _update_status(connection, messages)
    store_heartbeats(
        connection,
        [(i.message, i.inbound.received_at) for i in messages if isinstance(i.message, Heartbeat)],
        history_days=history_days,
    )
    store_self_tests(
        connection,
        [
            (i.message, i.inbound.received_at)
            for i in messages
            if isinstance(i.message, SelfTestResult)
        ],
    )
    outcome.done_commands = store_outcomes(
        connection,
        [
            (i.message, i.inbound.received_at)
            for i in messages
            if isinstance(i.message, CommandDone)
        ],
    )
    store_reports(
        connection,
        [
            (i.message, i.inbound.received_at)
            for i in messages
            if isinstance(i.message, ConfigReport)
        ],
    )
    # The fleet's own clock when these messages arrived: the rate's and retention's "now".
    now = max((item.inbound.received_at for item in aside), default=utc_now())
    kept = keep(connection, aside, bounds=limits.quarantine, now=now)
    outcome.quarantined.update(kept.kept)
    outcome.quarantine_dropped.update(rate=kept.dropped_rate, size=kept.dropped_size)
    return outcome


def _judged(
    connection: Connection,
    stored: Sequence[Accepted | ReadCounts],
    limits: IngestLimits,
    aside: list[ToQuarantine],
) -> tuple[list[Received], list[Inbound]]:
    """What store_records needs, with implausible records set aside (added to ``aside``)."""
    batches = [item for item in stored if _records_of(item) is not None]
    highest = seq_ranges.highest(connection, {_exhibit_of(i) for i in batches if _counts(i)})
    received: list[Received] = []
    origins: list[Inbound] = []
    for item in batches:
        found = _records_of(item)
        assert found is not None
        message, received_at = found
        if isinstance(message, RecordBatch):
            judged = plausibility.judge_records(
                message.records,
                highest=highest[message.exhibit_id],
                max_jump=limits.max_seq_jump,
            )
            highest[message.exhibit_id] = judged.highest
            if judged.set_aside:
                aside.append(
                    ToQuarantine(
                        item.inbound,
                        judged.set_aside[0].reason,
                        plausibility.describe(judged.set_aside, stored=len(judged.kept)),
                    )
                )
            if not judged.kept:
                continue
            message = RecordBatch(message.exhibit_id, judged.kept)
        received.append((message, received_at))
        origins.append(item.inbound)
    return received, origins


def _counts(item: Accepted | ReadCounts) -> bool:
    return isinstance(item, ReadCounts) or isinstance(item.message, CountBatch)


def _exhibit_of(item: Accepted | ReadCounts) -> str:
    return item.exhibit_id if isinstance(item, ReadCounts) else item.message.exhibit_id


def _records_of(item: Accepted | ReadCounts) -> Received | None:
    """What store_records needs of ``item``: its records, or its heartbeat's clock."""
    received_at = item.inbound.received_at
    if isinstance(item, ReadCounts):
        return item.batch, received_at
    if isinstance(item.message, CountBatch):
        return rows_of(item.message), received_at
    if isinstance(item.message, Heartbeat):
        return item.message, received_at
    return None


def _registered(connection: Connection, exhibit_ids: set[str]) -> set[str]:
    """The registered ones of ``exhibit_ids``, locked (PostgreSQL) until the commit."""
    if not exhibit_ids:
        return set()
    rows = connection.execute(
        select(exhibits.c.id)
        .where(exhibits.c.id.in_(sorted(exhibit_ids)))
        .order_by(exhibits.c.id)
        .with_for_update()
    )
    return {row.id for row in rows}


def _update_status(connection: Connection, stored: Iterable[Accepted]) -> None:
    """Fold status and heartbeats per exhibit in arrival order, then upsert each exhibit once."""
    latest: dict[str, dict[str, Any]] = {}
    for item in stored:
        message = item.message
        if not isinstance(message, Status | Heartbeat):
            continue
        row = latest.setdefault(message.exhibit_id, {"exhibit_id": message.exhibit_id})
        row["last_seen_at"] = item.inbound.received_at
        if message.boot_id is not None:
            row["boot_id"] = message.boot_id
        if isinstance(message, Status):
            row["online"] = message.online
            # The last will carries no time: it happened when the broker sent it.
            row["status_at"] = message.at or item.inbound.received_at
            # A birth says what the agent runs; a last will says none of it (keep the last).
            if message.agent_version is not None:
                row["agent_version"] = message.agent_version
            if message.config_hash is not None:
                row["config_hash"] = message.config_hash
            if message.inputs is not None:
                row["reported_inputs"] = list(message.inputs)
            if message.online:  # a birth: the fleet's version it runs, or none (its own)
                row["config_version"] = message.config_version
    # PostgreSQL refuses to update one row twice in one statement, and rows of one
    # statement must have the same columns: group by the set of columns touched.
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in latest.values():
        groups.setdefault(frozenset(row), []).append(row)
    for columns, group in groups.items():
        statement = insert(connection, exhibit_status)
        updates = {name: statement.excluded[name] for name in columns if name != "exhibit_id"}
        connection.execute(
            statement.on_conflict_do_update(index_elements=["exhibit_id"], set_=updates), group
        )
