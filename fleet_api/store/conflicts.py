"""Records that reuse a stored (exhibit, seq) with another body: conflicts, kept, not dropped.

A redelivered record is byte-for-byte what was stored (the agent never changes a record
once it was handed to the broker), so ``ON CONFLICT DO NOTHING`` rightly ignores it.
One that arrives under a stored seq with *different* values is not a redelivery: a
reflashed SD card whose seqs started again, a restored backup, a bug. Ingestion keeps the
stored record, sets the new one aside (quarantine ``conflict``, both bodies), and counts
it per exhibit in ``exhibit_conflicts``; a conflict from another boot than the stored
record's means the exhibit's seqs started again (``restarts``), which fleet health reports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select, tuple_

from fleet_api.store.dialect import insert
from fleet_api.tables import count_records
from fleet_api.tables_ingest import exhibit_conflicts

COUNT_BODY = ("input", "start", "mono_start", "seconds", "count", "boot_id", "clock_synced",
              "visit_id")  # fmt: skip
SESSION_BODY = ("start", "mono_start", "dwell_s", "interactions", "boot_id", "clock_synced",
                "visit_id")  # fmt: skip
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Conflict:
    """One received record whose seq is stored with another body."""

    origin: int
    """Which message of the batch it came in (an index into what was written)."""
    exhibit_id: str
    seq: int
    stored: dict[str, Any]
    received: dict[str, Any]

    @property
    def restart(self) -> bool:
        """Another boot than the stored record's: the exhibit's seqs started again."""
        return bool(self.stored["boot_id"] != self.received["boot_id"])


@dataclass(frozen=True, slots=True)
class Candidate:
    """A row not inserted because its key exists: a redelivery, or a conflict."""

    origin: int
    exhibit_id: str
    seq: int
    body: dict[str, Any]


def body(names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A record's values by column name."""
    return dict(zip(names, values, strict=True))


def find(connection: Connection, table: Table, candidates: Sequence[Candidate]) -> list[Conflict]:
    """The candidates whose stored record differs (a redelivery is not one)."""
    names = COUNT_BODY if table is count_records else SESSION_BODY
    columns = table.c
    stored: dict[tuple[str, int], dict[str, Any]] = {}
    keys = sorted({(c.exhibit_id, c.seq) for c in candidates})
    for first in range(0, len(keys), _CHUNK):
        chunk = keys[first : first + _CHUNK]
        rows = connection.execute(
            select(columns.exhibit_id, columns.seq, *(columns[name] for name in names)).where(
                tuple_(columns.exhibit_id, columns.seq).in_(chunk)
            )
        )
        for row in rows:
            stored[(row[0], row[1])] = body(names, row[2:])
    return [
        Conflict(c.origin, c.exhibit_id, c.seq, stored[key], c.body)
        for c in candidates
        if (key := (c.exhibit_id, c.seq)) in stored and _differs(stored[key], c.body)
    ]


def _differs(stored: dict[str, Any], received: dict[str, Any]) -> bool:
    return any(stored[name] != received[name] for name in received)


def as_json(conflicts: Sequence[Conflict]) -> str:
    """The stored side of some conflicts, for the quarantine's ``stored`` column."""
    return json.dumps(
        [{"seq": c.seq, **c.stored} for c in conflicts], default=_iso, separators=(",", ":")
    )


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def describe(conflicts: Sequence[Conflict]) -> str:
    """The quarantine detail of a message with conflicting records."""
    restarts = [c for c in conflicts if c.restart]
    seqs = ", ".join(str(c.seq) for c in conflicts[:20])
    more = f" and {len(conflicts) - 20} more" if len(conflicts) > 20 else ""
    head = (
        f"{len(conflicts)} record(s) reuse stored seqs with another body ({seqs}{more}); "
        "the stored records were kept"
    )
    if restarts:
        head += (
            f"; {len(restarts)} come from another boot than the stored ones: the exhibit's "
            "seqs started again (a reflashed SD card or a restored backup?)"
        )
    return head


def count(connection: Connection, conflicts: Sequence[Conflict], *, at: datetime) -> None:
    """Add ``conflicts`` to each exhibit's counters."""
    per_exhibit: dict[str, list[Conflict]] = {}
    for conflict in conflicts:
        per_exhibit.setdefault(conflict.exhibit_id, []).append(conflict)
    for exhibit_id, found in sorted(per_exhibit.items()):
        restarts = sum(1 for c in found if c.restart)
        last_seq = max(c.seq for c in found)
        statement = insert(connection, exhibit_conflicts).values(
            exhibit_id=exhibit_id,
            records=len(found),
            restarts=restarts,
            first_at=at,
            last_at=at,
            last_seq=last_seq,
        )
        c = exhibit_conflicts.c
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["exhibit_id"],
                set_={
                    "records": c.records + len(found),
                    "restarts": c.restarts + restarts,
                    "last_at": at,
                    "last_seq": last_seq,
                },
            )
        )


@dataclass(frozen=True, slots=True)
class ConflictCounts:
    """An exhibit's conflicts so far."""

    records: int
    restarts: int
    last_at: datetime
    last_seq: int


def load_counts(connection: Connection, exhibit_ids: Sequence[str]) -> dict[str, ConflictCounts]:
    """The conflict counters of these exhibits (absent: none ever)."""
    if not exhibit_ids:
        return {}
    c = exhibit_conflicts.c
    rows = connection.execute(
        select(c.exhibit_id, c.records, c.restarts, c.last_at, c.last_seq).where(
            c.exhibit_id.in_(sorted(set(exhibit_ids)))
        )
    )
    return {row[0]: ConflictCounts(row[1], row[2], row[3], row[4]) for row in rows}
