"""The seq ranges received per exhibit (``exhibit_seq_ranges``), kept maximal on every insert.

Ingestion adds the seqs it actually inserted, in the same transaction and under the
exhibit's row lock (see :func:`fleet_api.store.ingest.store_triaged`), so two ingest
workers never merge the same exhibit's ranges at once. Only ranges touching the new
seqs are read, so an exhibit with many gaps costs no more than one without.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Connection, bindparam, func, or_, select

from broker.limits import SEQ_MAX
from fleet_api.completeness import SeqRange, merge
from fleet_api.tables import exhibit_seq_ranges

ranges_c = exhibit_seq_ranges.c


def add_ranges(connection: Connection, new: Mapping[str, Sequence[SeqRange]]) -> None:
    """Merge ``new`` ranges (maximal, sorted, per exhibit) into the stored ones."""
    deletes: list[dict[str, object]] = []
    inserts: list[dict[str, object]] = []
    for exhibit_id, ranges in sorted(new.items()):
        if not ranges:
            continue
        # Scattered seqs would make a long OR: past a few, read their whole span instead.
        spans = ranges if len(ranges) <= 8 else [SeqRange(ranges[0].first, ranges[-1].last)]
        # min(): the contract's last seq is the largest signed 64-bit integer, so + 1
        # would not fit in the column's type (or bind to it).
        touching = or_(
            *(
                (ranges_c.first_seq <= min(item.last + 1, SEQ_MAX))
                & (ranges_c.last_seq >= item.first - 1)
                for item in spans
            )
        )
        existing = [
            SeqRange(row.first_seq, row.last_seq)
            for row in connection.execute(
                select(ranges_c.first_seq, ranges_c.last_seq).where(
                    ranges_c.exhibit_id == exhibit_id, touching
                )
            )
        ]
        change = merge(existing, ranges)
        deletes += [{"e": exhibit_id, "f": item.first} for item in change.delete]
        inserts += [
            {"exhibit_id": exhibit_id, "first_seq": item.first, "last_seq": item.last}
            for item in change.insert
        ]
    if deletes:
        connection.execute(
            exhibit_seq_ranges.delete().where(
                ranges_c.exhibit_id == bindparam("e"), ranges_c.first_seq == bindparam("f")
            ),
            deletes,
        )
    if inserts:
        connection.execute(exhibit_seq_ranges.insert(), inserts)


def load_ranges(connection: Connection, exhibit_ids: Iterable[str]) -> dict[str, list[SeqRange]]:
    """The stored ranges of each exhibit, sorted (an exhibit with none maps to [])."""
    wanted = sorted(set(exhibit_ids))
    found: dict[str, list[SeqRange]] = {exhibit_id: [] for exhibit_id in wanted}
    if not wanted:
        return found
    for row in connection.execute(
        select(exhibit_seq_ranges)
        .where(ranges_c.exhibit_id.in_(wanted))
        .order_by(ranges_c.exhibit_id, ranges_c.first_seq)
    ):
        found[row.exhibit_id].append(SeqRange(row.first_seq, row.last_seq))
    return found


def highest(connection: Connection, exhibit_ids: Iterable[str]) -> dict[str, int]:
    """Each exhibit's highest seq received (0 for one with none)."""
    wanted = sorted(set(exhibit_ids))
    found = dict.fromkeys(wanted, 0)
    if wanted:
        statement = (
            select(ranges_c.exhibit_id, func.max(ranges_c.last_seq))
            .where(ranges_c.exhibit_id.in_(wanted))
            .group_by(ranges_c.exhibit_id)
        )
        found.update({row[0]: int(row[1]) for row in connection.execute(statement)})
    return found
