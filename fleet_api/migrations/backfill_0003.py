"""The data step of migration 0003: place, roll up and range the first release's records.

Frozen with the revision that calls it (a migration must not change when the code
does): the rules of :mod:`fleet_api.attribution` as they stood at revision 0003, on the
tables as they are at that revision. It reads every count record into memory, which is
right for the small databases of the first release; run it before a fleet grows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)
BOOL = sa.Boolean(create_constraint=False)


# Lightweight tables for the backfill: the columns as they are at this revision.
_records_t = sa.table(
    "count_records",
    sa.column("exhibit_id", sa.String()),
    sa.column("seq", sa.BigInteger()),
    sa.column("input", sa.String()),
    sa.column("start", UTC_TIME),
    sa.column("mono_start", sa.Double()),
    sa.column("count", sa.Integer()),
    sa.column("boot_id", sa.String()),
    sa.column("clock_synced", BOOL),
    sa.column("visit_id", sa.BigInteger()),
    sa.column("received_at", UTC_TIME),
    sa.column("corrected_start", UTC_TIME),
    sa.column("time_basis", sa.String()),
    sa.column("attributed_visit_id", sa.BigInteger()),
)
_visits_t = sa.table(
    "visits",
    sa.column("id", sa.BigInteger()),
    sa.column("starts_at", UTC_TIME),
    sa.column("ends_at", UTC_TIME),
)
_members_t = sa.table(
    "visit_exhibits", sa.column("visit_id", sa.BigInteger()), sa.column("exhibit_id", sa.String())
)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def backfill_0003(bind: sa.Connection) -> None:
    """Place existing records, then build the rollups and seq ranges from them."""
    rows = bind.execute(sa.select(_records_t).order_by(_records_t.c.seq)).mappings().all()
    if not rows:
        return
    windows: dict[str, list[tuple[int, datetime, datetime]]] = {}
    for visit_id, exhibit_id, starts_at, ends_at in bind.execute(
        sa.select(
            _visits_t.c.id, _members_t.c.exhibit_id, _visits_t.c.starts_at, _visits_t.c.ends_at
        ).join(_members_t, _members_t.c.visit_id == _visits_t.c.id)
    ):
        windows.setdefault(exhibit_id, []).append((visit_id, _aware(starts_at), _aware(ends_at)))
    references: dict[tuple[str, str], tuple[datetime, float, datetime]] = {}
    for row in rows:  # in seq order: the first synced record of a boot is its reference
        key = (row["exhibit_id"], row["boot_id"])
        if row["clock_synced"] and key not in references:
            references[key] = (_aware(row["start"]), row["mono_start"], _aware(row["received_at"]))
    usage: dict[tuple[int, str, str, datetime], list[int]] = {}
    updates = []
    for row in rows:
        exhibit_id, start = row["exhibit_id"], _aware(row["start"])
        reference = references.get((exhibit_id, row["boot_id"]))
        if row["clock_synced"]:
            at, basis = start, "synced"
        elif reference is not None:
            at = reference[0] + timedelta(seconds=row["mono_start"] - reference[1])
            basis = "rebased"
        else:
            at, basis = start, "unsynced"
        mine = windows.get(exhibit_id, [])
        visit = next((v for v, _, _ in mine if v == row["visit_id"]), None)
        if visit is None:
            visit = next((v for v, s, e in mine if s <= at < e), None)
        updates.append({"e": exhibit_id, "s": row["seq"], "at": at, "basis": basis, "visit": visit})
        cell = usage.setdefault(
            (visit or 0, exhibit_id, row["input"], at.replace(minute=0, second=0, microsecond=0)),
            [0, 0],
        )
        cell[0] += row["count"]
        cell[1] += 1
    bind.execute(
        _records_t.update()
        .where(_records_t.c.exhibit_id == sa.bindparam("e"), _records_t.c.seq == sa.bindparam("s"))
        .values(
            corrected_start=sa.bindparam("at"),
            time_basis=sa.bindparam("basis"),
            attributed_visit_id=sa.bindparam("visit"),
        ),
        updates,
    )
    text, big, time = sa.String(), sa.BigInteger(), UTC_TIME
    _insert(
        "boot_clocks",
        [
            {"exhibit_id": e, "boot_id": b, "ref_wall": wall, "ref_mono": mono}
            | {"source": "record", "received_at": received}
            for (e, b), (wall, mono, received) in references.items()
        ],
        exhibit_id=text,
        boot_id=text,
        ref_wall=time,
        ref_mono=sa.Double(),
        source=text,
        received_at=time,
    )
    _insert(
        "usage_hourly",
        [
            {"visit_id": v, "exhibit_id": e, "input": i, "hour": h, "count": c, "records": n}
            for (v, e, i, h), (c, n) in usage.items()
        ],
        visit_id=big,
        exhibit_id=text,
        input=text,
        hour=time,
        count=big,
        records=big,
    )
    _insert(
        "exhibit_seq_ranges",
        _seq_ranges([(row["exhibit_id"], row["seq"]) for row in rows]),
        exhibit_id=text,
        first_seq=big,
        last_seq=big,
    )


def _insert(table: str, rows: list[dict[str, Any]], **types: Any) -> None:
    if rows:
        op.bulk_insert(sa.table(table, *(sa.column(n, t) for n, t in types.items())), rows)


def _seq_ranges(seqs: list[tuple[str, int]]) -> list[dict[str, object]]:
    ranges: list[dict[str, object]] = []
    for exhibit_id, seq in sorted(seqs):
        last = ranges[-1] if ranges else None
        if last is not None and last["exhibit_id"] == exhibit_id and last["last_seq"] == seq - 1:
            last["last_seq"] = seq
        else:
            ranges.append({"exhibit_id": exhibit_id, "first_seq": seq, "last_seq": seq})
    return ranges
