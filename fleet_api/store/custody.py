"""What the fleet tells an exhibit it has stored, read in the transaction that stored it.

After each commit, ingestion sends every exhibit of the batch a ``Custody`` message
(:mod:`fleet_api.ingest`): the seq below which everything of the exhibit is stored, and
the stored runs above it that hold this batch's seqs. Read from ``exhibit_seq_ranges``
under the exhibit's row lock (:func:`fleet_api.store.ingest.store_triaged`), after the
batch's own ranges were merged in, so it is exactly what the commit makes true; seqs the
batch repeats (a redelivery) are confirmed again, which is what lets an exhibit whose
earlier confirmation was lost stop resending.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, or_, select

from broker.limits import MAX_CUSTODY_RANGES
from fleet_api.completeness import SeqRange, singles
from fleet_api.record_rows import RecordBatch
from fleet_api.tables import exhibit_seq_ranges

ranges_c = exhibit_seq_ranges.c


@dataclass(frozen=True, slots=True)
class Stored:
    """One exhibit's custody statement: every seq below ``below``, and ``ranges``."""

    below: int
    ranges: list[SeqRange]


def batch_seqs(batches: Iterable[RecordBatch]) -> dict[str, list[SeqRange]]:
    """The maximal runs of seqs each exhibit sent in these batches."""
    seqs: dict[str, set[int]] = {}
    for batch in batches:
        seqs.setdefault(batch.exhibit_id, set()).update(record[1] for record in batch.records)
    return {exhibit_id: singles(found) for exhibit_id, found in seqs.items() if found}


def custody_of(connection: Connection, sent: dict[str, list[SeqRange]]) -> dict[str, Stored]:
    """For each exhibit, what is stored: the prefix, and the stored runs that meet ``sent``."""
    if not sent:
        return {}
    wanted = or_(
        *(
            and_(
                ranges_c.exhibit_id == exhibit_id,
                or_(
                    ranges_c.first_seq == 1,
                    and_(ranges_c.first_seq <= runs[-1].last, ranges_c.last_seq >= runs[0].first),
                ),
            )
            for exhibit_id, runs in sorted(sent.items())
        )
    )
    stored: dict[str, list[SeqRange]] = {exhibit_id: [] for exhibit_id in sent}
    for row in connection.execute(
        select(ranges_c.exhibit_id, ranges_c.first_seq, ranges_c.last_seq).where(wanted)
    ):
        stored[row.exhibit_id].append(SeqRange(row.first_seq, row.last_seq))
    return {exhibit_id: _statement(stored[exhibit_id], sent[exhibit_id]) for exhibit_id in sent}


def _statement(stored: Sequence[SeqRange], sent: Sequence[SeqRange]) -> Stored:
    ranges = sorted(stored)
    below = 1
    if ranges and ranges[0].first == 1:
        below = ranges.pop(0).last + 1
    meeting = [r for r in ranges if any(r.first <= s.last and s.first <= r.last for s in sent)]
    return Stored(below, meeting[:MAX_CUSTODY_RANGES])
