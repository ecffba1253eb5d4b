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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from broker.errors import TopicError
from broker.limits import MAX_PAYLOAD_BYTES
from broker.messages import CountBatch, Heartbeat, SelfTestResult, Status
from broker.topics import Channel, parse
from fleet_api.inbound import Inbound, QuarantineReason
from fleet_api.record_rows import RecordBatch, read_counts, rows_of
from fleet_api.store.commands import store_self_tests
from fleet_api.store.custody import Stored, batch_seqs, custody_of
from fleet_api.store.dialect import insert
from fleet_api.store.heartbeats import DEFAULT_HISTORY_DAYS, store_heartbeats
from fleet_api.store.records import Received, store_records
from fleet_api.tables import exhibit_status, exhibits, quarantine
from fleet_api.triage import Accepted, Rejected, triage

DETAIL_MAX = 2000


@dataclass
class BatchOutcome:
    """What one batch did to the database."""

    messages: int = 0
    records_received: int = 0
    records_inserted: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    custody: dict[str, Stored] = field(default_factory=dict)
    """What is stored of each exhibit that sent records, once this batch is committed."""

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
) -> BatchOutcome:
    """Triage and store ``messages`` in one committed transaction."""
    sorted_out = [sort(message) for message in messages]
    with engine.begin() as connection:
        return store_triaged(connection, sorted_out, history_days=history_days)


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


def write_rejected(engine: Engine, message: Inbound, *, reason: str, detail: str) -> BatchOutcome:
    """Quarantine one message on its own (the database refused it inside a batch)."""
    with engine.begin() as connection:
        return store_triaged(connection, [Rejected(message, reason, detail)])


def store_triaged(
    connection: Connection,
    sorted_out: Sequence[Sorted],
    *,
    history_days: float = DEFAULT_HISTORY_DAYS,
) -> BatchOutcome:
    """Store accepted messages of registered exhibits, quarantine the rest; no commit."""
    outcome = BatchOutcome(messages=len(sorted_out))
    accepted = [item for item in sorted_out if not isinstance(item, Rejected)]
    rejected = [item for item in sorted_out if isinstance(item, Rejected)]
    registered = _registered(connection, {_exhibit_of(item) for item in accepted})
    stored: list[Accepted | ReadCounts] = []
    for item in accepted:
        if _exhibit_of(item) in registered:
            stored.append(item)
        else:
            rejected.append(
                Rejected(
                    item.inbound,
                    QuarantineReason.UNKNOWN_EXHIBIT,
                    f"exhibit {_exhibit_of(item)!r} is not registered: "
                    "register it with POST /exhibits (until then its messages are kept here)",
                )
            )
    received = [r for item in stored if (r := _records_of(item))]
    records = store_records(connection, received)
    outcome.records_received, outcome.records_inserted = records.received, records.inserted
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
    _quarantine(connection, rejected)
    outcome.quarantined.update(str(item.reason) for item in rejected)
    return outcome


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


def _quarantine(connection: Connection, rejected: Sequence[Rejected]) -> None:
    if not rejected:
        return
    connection.execute(
        quarantine.insert(),
        [
            {
                "received_at": item.inbound.received_at,
                "topic": item.inbound.topic,
                # Oversized payloads are kept in part: enough to see what sent them.
                "payload": item.inbound.payload[:MAX_PAYLOAD_BYTES],
                "reason": str(item.reason),
                "detail": item.detail[:DETAIL_MAX],
            }
            for item in rejected
        ],
    )
