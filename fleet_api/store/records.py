"""Store a batch's count and session records, placed, with rollups and seq ranges.

In the caller's transaction, in this order:

1. every synced record or heartbeat offers its boot a clock reference; a boot that gets
   its first one here has its stored unsynced records re-based and re-attributed
   (:func:`fleet_api.store.reattribution.rebase_boots`) before anything is inserted;
2. each record is placed (:mod:`fleet_api.attribution`: corrected, then attributed)
   with the references and the visits known now, and inserted unless its
   (exhibit_id, seq) is stored already;
3. only the rows actually inserted are added to the rollups and the seq ranges, so a
   replay changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from broker.messages import CountBatch, CountRecord, Heartbeat, SessionRecord
from fleet_api.attribution import ClockReference, Placement, attribute, correct_time
from fleet_api.completeness import singles
from fleet_api.store import clocks, seq_ranges
from fleet_api.store.clocks import BootKey, Candidate
from fleet_api.store.dialect import insert_new
from fleet_api.store.reattribution import rebase_boots
from fleet_api.store.rollups import RollupDelta, apply
from fleet_api.store.windows import load_index
from fleet_api.tables import count_records, session_records
from fleet_api.triage import Accepted


@dataclass(frozen=True, slots=True)
class RecordsOutcome:
    """Records received in the batch, and how many were new."""

    received: int
    inserted: int


@dataclass(frozen=True, slots=True)
class _Item:
    exhibit_id: str
    record: CountRecord | SessionRecord
    received_at: datetime


def store_records(connection: Connection, stored: Sequence[Accepted]) -> RecordsOutcome:
    """Store the records of the batches in ``stored`` (their exhibits are registered)."""
    items: list[_Item] = []
    candidates: dict[BootKey, Candidate] = {}
    for accepted in stored:
        message = accepted.message
        received_at = accepted.inbound.received_at
        if isinstance(message, CountBatch):
            for record in message.records:
                items.append(_Item(message.exhibit_id, record, received_at))
                if record.clock_synced:
                    candidates.setdefault(
                        (message.exhibit_id, record.boot_id),
                        Candidate(
                            ClockReference(record.start.astimezone(UTC), record.mono_start),
                            record.type,
                            received_at,
                        ),
                    )
        elif isinstance(message, Heartbeat) and message.clock_synced:
            candidates.setdefault(
                (message.exhibit_id, message.boot_id),
                Candidate(
                    ClockReference(message.at.astimezone(UTC), message.uptime_s),
                    "heartbeat",
                    received_at,
                ),
            )
    established = clocks.establish(connection, candidates)
    rebase_boots(connection, {key: candidates[key].reference for key in established})
    if not items:
        return RecordsOutcome(0, 0)
    placed = _place(connection, _first_of_each(items))
    delta = RollupDelta()
    new_seqs: defaultdict[str, list[int]] = defaultdict(list)
    inserted = 0
    for table, kind in ((count_records, CountRecord), (session_records, SessionRecord)):
        mine = [(item, placement) for item, placement in placed if isinstance(item.record, kind)]
        rows = [_row(item, placement) for item, placement in mine]
        keys = {
            (row.exhibit_id, row.seq)
            for row in insert_new(
                connection, table, rows, key=("exhibit_id", "seq"), returning=("exhibit_id", "seq")
            )
        }
        for item, placement in mine:
            if (item.exhibit_id, item.record.seq) not in keys:
                continue
            inserted += 1
            new_seqs[item.exhibit_id].append(item.record.seq)
            _contribute(delta, item, placement)
    apply(connection, delta)
    seq_ranges.add_ranges(connection, {e: singles(seqs) for e, seqs in new_seqs.items()})
    return RecordsOutcome(len(items), inserted)


def _first_of_each(items: Sequence[_Item]) -> list[_Item]:
    """One item per (exhibit_id, seq): a batch may repeat a record; the first one counts."""
    seen: set[tuple[str, int]] = set()
    unique = []
    for item in items:
        key = (item.exhibit_id, item.record.seq)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _place(connection: Connection, items: Sequence[_Item]) -> list[tuple[_Item, Placement]]:
    references = clocks.load(connection, {(i.exhibit_id, i.record.boot_id) for i in items})
    times = [
        correct_time(
            start=i.record.start,
            mono_start=i.record.mono_start,
            clock_synced=i.record.clock_synced,
            reference=references.get((i.exhibit_id, i.record.boot_id)),
        )
        for i in items
    ]
    index = load_index(
        connection,
        exhibit_ids={i.exhibit_id for i in items},
        since=min(t.at for t in times),
        until=max(t.at for t in times),
        visit_ids={i.record.visit_id for i in items if i.record.visit_id is not None},
    )
    return [
        (
            item,
            Placement(
                time.at,
                time.basis,
                attribute(
                    index,
                    exhibit_id=item.exhibit_id,
                    tag=item.record.visit_id,
                    at=time.at,
                    basis=time.basis,
                ),
            ),
        )
        for item, time in zip(items, times, strict=True)
    ]


def _row(item: _Item, placement: Placement) -> dict[str, Any]:
    return {
        "exhibit_id": item.exhibit_id,
        **item.record.model_dump(exclude={"type"}),
        "received_at": item.received_at,
        "corrected_start": placement.at,
        "time_basis": str(placement.basis),
        "attributed_visit_id": placement.visit_id,
    }


def _contribute(delta: RollupDelta, item: _Item, placement: Placement) -> None:
    record = item.record
    if isinstance(record, CountRecord):
        delta.add_count(
            visit_id=placement.visit_id,
            exhibit_id=item.exhibit_id,
            input=record.input,
            at=placement.at,
            count=record.count,
        )
    else:
        delta.add_session(
            visit_id=placement.visit_id,
            exhibit_id=item.exhibit_id,
            at=placement.at,
            interactions=record.interactions,
            dwell_s=record.dwell_s,
        )
