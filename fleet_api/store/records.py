"""Store a batch's count and session records, placed, with rollups and seq ranges.

In the caller's transaction, in this order:

1. every synced record or heartbeat offers its boot a clock reference; a boot that gets
   its first one here has its stored unsynced records re-based and re-attributed
   (:func:`fleet_api.store.reattribution.rebase_boots`) before anything is inserted;
2. each record is placed (:mod:`fleet_api.attribution`: corrected, then attributed)
   with the references and the visits known now, and inserted unless its
   (exhibit_id, seq) is stored already;
3. only the rows actually inserted are added to the rollups and the seq ranges, so a
   replay changes nothing; a row not inserted whose stored record differs is a
   conflict (:mod:`fleet_api.store.conflicts`), returned for the quarantine;
4. the records of never-synced boots whose bounds the batch may have moved are placed
   again by those bounds, or left unplaced (:mod:`fleet_api.store.settle`).

Records arrive as rows (:mod:`fleet_api.record_rows`), and are placed a run at a time:
consecutive records of one message with the same boot, clock state and tag share
their clock reference and, nearly always, their visit (:func:`attribute_many`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from typing import TypeVar, cast

from sqlalchemy import Connection, Table

from broker.messages import Heartbeat
from fleet_api.attribution import ClockReference, TimeBasis, attribute_many, hour_of
from fleet_api.completeness import SeqRange
from fleet_api.record_rows import COUNT, RecordBatch, RecordRow
from fleet_api.store import clocks, seq_ranges
from fleet_api.store import conflicts as conflicts_store
from fleet_api.store.clocks import BootKey, Candidate
from fleet_api.store.conflicts import COUNT_BODY, SESSION_BODY, Conflict
from fleet_api.store.dialect import insert_new
from fleet_api.store.reattribution import rebase_boots
from fleet_api.store.rollups import RollupDelta, visit_key
from fleet_api.store.rollups import apply as apply_rollups
from fleet_api.store.settle import settle_batch
from fleet_api.store.windows import load_index
from fleet_api.tables import count_records, session_records

Received = tuple[RecordBatch | Heartbeat, datetime]
"""A batch's records or a heartbeat, and when the fleet received it."""

COUNT_COLUMNS = (
    "exhibit_id", "seq", "input", "start", "mono_start", "seconds", "count", "boot_id",
    "clock_synced", "visit_id", "received_at", "corrected_start", "time_basis",
    "attributed_visit_id",
)  # fmt: skip
SESSION_COLUMNS = (
    "exhibit_id", "seq", "start", "mono_start", "dwell_s", "interactions", "boot_id",
    "clock_synced", "visit_id", "received_at", "corrected_start", "time_basis",
    "attributed_visit_id",
)  # fmt: skip
_KEY = ("exhibit_id", "seq")

CountRow = tuple[
    str, int, str, datetime, float, float, int, str, bool, int | None, datetime, datetime, str,
    int | None,
]  # fmt: skip
"""A count_records row, in COUNT_COLUMNS order."""
SessionRow = tuple[
    str, int, datetime, float, float, int, str, bool, int | None, datetime, datetime, str,
    int | None,
]  # fmt: skip
"""A session_records row, in SESSION_COLUMNS order."""


@dataclass(frozen=True, slots=True)
class RecordsOutcome:
    """Records received in the batch, how many were new, and which conflict."""

    received: int
    inserted: int
    conflicts: tuple[Conflict, ...] = ()


@dataclass(frozen=True, slots=True)
class _Run:
    """Consecutive records of one message sharing boot, clock state and tag."""

    exhibit_id: str
    received_at: datetime
    boot_id: str
    synced: bool
    tag: int | None
    records: list[RecordRow]
    origin: int
    """Which of the ``received`` it came in."""


def store_records(connection: Connection, received: Sequence[Received]) -> RecordsOutcome:
    """Store the records of ``received`` in order (their exhibits are registered)."""
    candidates: dict[BootKey, Candidate] = {}
    runs: list[_Run] = []
    seen: dict[str, dict[int, tuple[int, RecordRow]]] = {}
    repeats: list[Conflict] = []
    total = 0
    for origin, (message, received_at) in enumerate(received):
        if isinstance(message, Heartbeat):
            if message.clock_synced:
                candidates.setdefault(
                    (message.exhibit_id, message.boot_id),
                    Candidate(
                        ClockReference(message.at.astimezone(UTC), message.uptime_s),
                        "heartbeat",
                        received_at,
                    ),
                )
            continue
        exhibit_id = message.exhibit_id
        total += len(message.records)
        _offer(candidates, exhibit_id, message.records, received_at)
        first = _first_of_each(message.records, seen, exhibit_id, origin, repeats)
        runs += _runs(exhibit_id, received_at, first, origin)
    established = clocks.establish(connection, candidates)
    rebase_boots(connection, {key: candidates[key].reference for key in established})
    if not runs:
        settle_batch(connection, {}, {}, established)
        return RecordsOutcome(total, 0, tuple(repeats))
    placed = _place(connection, runs)
    inserted, conflicts = _insert(connection, runs, placed)
    trusted, fresh = _settled_spans(runs, placed)
    settle_batch(connection, trusted, fresh, established)
    return RecordsOutcome(total, inserted, (*repeats, *conflicts))


def _settled_spans(
    runs: Sequence[_Run], placed: Sequence[tuple[list[datetime], TimeBasis, list[int | None]]]
) -> tuple[dict[str, tuple[int, int]], dict[BootKey, list[int]]]:
    """The lowest and highest seq of each exhibit's trusted records in ``runs``, and the
    seqs of its unsynced ones per boot (what fleet_api.store.settle needs)."""
    trusted: dict[str, tuple[int, int]] = {}
    fresh: dict[BootKey, list[int]] = {}
    for run, (_times, basis, _visits) in zip(runs, placed, strict=True):
        seqs = [record[1] for record in run.records]
        if basis is TimeBasis.UNSYNCED:
            fresh.setdefault((run.exhibit_id, run.boot_id), []).extend(seqs)
            continue
        low, high = min(seqs), max(seqs)
        old = trusted.get(run.exhibit_id)
        trusted[run.exhibit_id] = (
            (low, high) if old is None else (min(old[0], low), max(old[1], high))
        )
    return trusted, fresh


def _offer(
    candidates: dict[BootKey, Candidate],
    exhibit_id: str,
    records: Sequence[RecordRow],
    received_at: datetime,
) -> None:
    """The first synced record of each boot offers it a clock reference (repeats too)."""
    for kind, _seq, boot_id, start, mono_start, synced, *_ in records:
        if synced and (exhibit_id, boot_id) not in candidates:
            candidates[(exhibit_id, boot_id)] = Candidate(
                ClockReference(start.astimezone(UTC), mono_start), kind, received_at
            )


def _first_of_each(
    records: Sequence[RecordRow],
    seen: dict[str, dict[int, tuple[int, RecordRow]]],
    exhibit_id: str,
    origin: int,
    repeats: list[Conflict],
) -> list[RecordRow]:
    """One record per (exhibit_id, seq): a batch may repeat a record; the first one counts.

    A repeat with other values is a conflict with the first (which is what gets stored).
    """
    mine = seen.setdefault(exhibit_id, {})
    unique = []
    for record in records:
        first = mine.get(record[1])
        if first is None:
            mine[record[1]] = (origin, record)
            unique.append(record)
        elif first[1] != record:
            repeats.append(Conflict(origin, exhibit_id, record[1], _body(first[1]), _body(record)))
    return unique


def _body(record: RecordRow) -> dict[str, object]:
    """A record's values as its table's columns name them (to compare and to show)."""
    kind, _seq, boot, start, mono, synced, tag, name, amount2, amount = record
    if kind == COUNT:
        values: tuple[object, ...] = (name, start, mono, amount2, amount, boot, synced, tag)
        return conflicts_store.body(COUNT_BODY, values)
    return conflicts_store.body(SESSION_BODY, (start, mono, amount2, amount, boot, synced, tag))


def _runs(
    exhibit_id: str, received_at: datetime, records: list[RecordRow], origin: int
) -> list[_Run]:
    return [
        _Run(exhibit_id, received_at, boot_id, synced, tag, list(group), origin)
        for (boot_id, synced, tag), group in groupby(records, key=lambda r: (r[2], r[5], r[6]))
    ]


def _place(
    connection: Connection, runs: Sequence[_Run]
) -> list[tuple[list[datetime], TimeBasis, list[int | None]]]:
    """Each run's corrected times, their basis and visits (rules of fleet_api.attribution)."""
    references = clocks.load(
        connection, {(run.exhibit_id, run.boot_id) for run in runs if not run.synced}
    )
    timed: list[tuple[list[datetime], TimeBasis]] = []
    for run in runs:
        reference = None if run.synced else references.get((run.exhibit_id, run.boot_id))
        if reference is not None:
            times = [reference.wall_at(r[4]).astimezone(UTC) for r in run.records]
            timed.append((times, TimeBasis.REBASED))
            continue
        # Parsed times are UTC already; astimezone only for other zones (same instant).
        times = [r[3] if r[3].tzinfo is UTC else r[3].astimezone(UTC) for r in run.records]
        timed.append((times, TimeBasis.SYNCED if run.synced else TimeBasis.UNSYNCED))
    index = load_index(
        connection,
        exhibit_ids={run.exhibit_id for run in runs},
        since=min(min(times) for times, _ in timed),
        until=max(max(times) for times, _ in timed),
        visit_ids={run.tag for run in runs if run.tag is not None},
    )
    return [
        (
            times,
            basis,
            attribute_many(index, exhibit_id=run.exhibit_id, tag=run.tag, times=times, basis=basis),
        )
        for run, (times, basis) in zip(runs, timed, strict=True)
    ]


def _insert(
    connection: Connection,
    runs: Sequence[_Run],
    placed: Sequence[tuple[list[datetime], TimeBasis, list[int | None]]],
) -> tuple[int, list[Conflict]]:
    """Insert the rows, then roll up and range the ones inserted; how many, and conflicts."""
    count_rows: list[CountRow] = []
    session_rows: list[SessionRow] = []
    count_origins: list[int] = []
    session_origins: list[int] = []
    for run, (times, basis, visits) in zip(runs, placed, strict=True):
        e, got, how = run.exhibit_id, run.received_at, str(basis)
        for (kind, seq, boot, start, mono, synced, tag, name, a, b), at, visit in zip(
            run.records, times, visits, strict=True
        ):
            if kind == COUNT:
                count_rows.append(
                    (e, seq, name, start, mono, a, b, boot, synced, tag, got, at, how, visit)
                )
                count_origins.append(run.origin)
            else:
                session_rows.append(
                    (e, seq, start, mono, a, b, boot, synced, tag, got, at, how, visit)
                )
                session_origins.append(run.origin)
    new_counts = _new(connection, count_records, COUNT_COLUMNS, count_rows)
    new_sessions = _new(connection, session_records, SESSION_COLUMNS, session_rows)
    conflicts = _conflicts(connection, count_records, count_rows, count_origins, new_counts)
    conflicts += _conflicts(
        connection, session_records, session_rows, session_origins, new_sessions
    )
    delta = RollupDelta()
    hours: dict[datetime, datetime] = {}
    new_seqs: dict[str, list[int]] = {}
    for e, seq, name, _, _, _, count, _, _, _, _, at, _, visit in new_counts:
        hour = hours.get(at) or hours.setdefault(at, hour_of(at))
        # add_count for each record, summed per cell first: the same integers.
        cell = delta.usage[(visit_key(visit), e, name, hour)]
        cell.count += count
        cell.records += 1
        new_seqs.setdefault(e, []).append(seq)
    for e, seq, _, _, dwell, interactions, _, _, _, _, at, _, visit in new_sessions:
        delta.add_session(
            visit_id=visit, exhibit_id=e, at=at, interactions=interactions, dwell_s=dwell
        )
        new_seqs.setdefault(e, []).append(seq)
    apply_rollups(connection, delta)
    seq_ranges.add_ranges(connection, {e: _ranges(seqs) for e, seqs in new_seqs.items()})
    return len(new_counts) + len(new_sessions), conflicts


def _conflicts(
    connection: Connection,
    table: Table,
    rows: Sequence[CountRow] | Sequence[SessionRow],
    origins: Sequence[int],
    inserted: Sequence[CountRow] | Sequence[SessionRow],
) -> list[Conflict]:
    """Rows not inserted (their key was stored) whose stored record differs."""
    if len(inserted) == len(rows):
        return []  # all new: the usual case costs nothing more
    new = {(row[0], row[1]) for row in inserted}
    names = COUNT_BODY if table is count_records else SESSION_BODY
    # The body columns follow the seq in both row layouts, before received_at.
    candidates = [
        conflicts_store.Candidate(
            origin,
            cast(str, row[0]),
            cast(int, row[1]),
            conflicts_store.body(names, row[2 : 2 + len(names)]),
        )
        for row, origin in zip(rows, origins, strict=True)
        if (row[0], row[1]) not in new
    ]
    return conflicts_store.find(connection, table, candidates)


Row = TypeVar("Row", CountRow, SessionRow)


def _new(
    connection: Connection, table: Table, columns: Sequence[str], rows: list[Row]
) -> list[Row]:
    """Insert ``rows``; the ones actually inserted (RETURNING), in their order."""
    if not rows:
        return []
    keys = insert_new(connection, table, columns, rows, key=_KEY)
    if len(keys) == len(rows):
        return rows  # every row was new: the usual case for a first delivery
    inserted = set(keys)
    return [row for row in rows if (row[0], row[1]) in inserted]


def _ranges(seqs: list[int]) -> list[SeqRange]:
    """The maximal ranges of distinct seqs (fleet_api.completeness.singles, in one pass)."""
    seqs.sort()
    ranges: list[SeqRange] = []
    first = last = seqs[0]
    for seq in seqs[1:]:
        if seq != last + 1:
            ranges.append(SeqRange(first, last))
            first = seq
        last = seq
    ranges.append(SeqRange(first, last))
    return ranges
