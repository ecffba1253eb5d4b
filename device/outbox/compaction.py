"""Keep a full outbox under its size cap by merging the oldest buckets, never by dropping.

When more than ``outbox_max_records`` records wait (weeks without network), the oldest
count records that never left the Pi are merged per (input, boot, visit, clock state)
into longer buckets (at most a day, ``CountRecord.seconds``' bound), until the outbox is
back at ``TARGET_FRACTION`` of the cap. Totals per input and per visit stay exact; only
the time resolution of the oldest data gets coarser. Sessions are never merged.

Seqs stay gap-free without any change to the contract: records above
``published_upto`` have never been handed to the broker, so nobody outside the Pi has
seen their seqs, and the whole unpublished tail is renumbered densely from
``published_upto + 1``. Records at or below ``published_upto`` (possibly delivered) keep
their seq and their exact bytes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from broker.limits import MAX_SPAN_S  # a merged bucket stays within CountRecord.seconds
from device.outbox.store import MAX_COUNT_PER_RECORD, Outbox

log = logging.getLogger(__name__)

TARGET_FRACTION = 0.75
"""Compact down to this share of the cap, so a full outbox is not compacted on every seal."""


@dataclass(frozen=True, slots=True)
class Compaction:
    """What one compaction did."""

    before: int
    after: int

    @property
    def merged(self) -> int:
        """Records that were merged into others."""
        return self.before - self.after


def _can_merge(into: dict[str, Any], item: dict[str, Any]) -> bool:
    start = min(into["mono_start"], item["mono_start"])
    end = max(into["mono_start"] + into["seconds"], item["mono_start"] + item["seconds"])
    count: int = into["count"] + item["count"]
    return bool(end - start <= MAX_SPAN_S) and count <= MAX_COUNT_PER_RECORD


def _merge(into: dict[str, Any], item: dict[str, Any]) -> None:
    end = max(into["mono_start"] + into["seconds"], item["mono_start"] + item["seconds"])
    if item["mono_start"] < into["mono_start"]:
        into["mono_start"], into["start"] = item["mono_start"], item["start"]
    into["seconds"] = end - into["mono_start"]
    into["count"] += item["count"]


def _merged(records: list[dict[str, Any]], to_remove: int) -> list[dict[str, Any]]:
    """``records`` (seq order) with up to ``to_remove`` of the oldest merged into others."""
    out: list[dict[str, Any]] = []
    groups: dict[tuple[object, ...], dict[str, Any]] = {}
    removed = 0
    for record in records:
        record.pop("seq", None)
        if record["type"] != "count" or removed >= to_remove:
            out.append(record)
            continue
        key = (record["input"], record["boot_id"], record.get("visit_id"), record["clock_synced"])
        group = groups.get(key)
        if group is not None and _can_merge(group, record):
            _merge(group, record)
            removed += 1
        else:
            groups[key] = record
            out.append(record)
    return out


def compact(outbox: Outbox, *, max_records: int) -> Compaction | None:
    """Merge the oldest unpublished counts if more than ``max_records`` wait; None if not."""
    before = outbox.depth()
    if before <= max_records:
        return None
    frozen = outbox.published_upto()
    with outbox.transaction() as db:
        rows = db.execute(
            "SELECT body FROM records WHERE seq > ? ORDER BY seq", (frozen,)
        ).fetchall()
        records = [json.loads(body) for (body,) in rows]
        out = _merged(records, before - int(max_records * TARGET_FRACTION))
        if len(out) == len(rows):
            log.warning(
                "outbox holds %d records, over its cap of %d, and nothing unpublished is left "
                "to merge; keeping everything",
                before,
                max_records,
            )
            return None
        db.execute("DELETE FROM records WHERE seq > ?", (frozen,))
        db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (frozen + 1,))
        outbox.append(out)
    after = outbox.depth()
    log.warning(
        "outbox over its cap of %d records: merged the oldest unpublished buckets, %d -> %d",
        max_records,
        before,
        after,
    )
    return Compaction(before, after)
