"""Correct the wall times of this boot once the clock is synced, where that is still allowed.

Without a real-time clock a Pi boots with the last saved time (fake-hwclock), possibly days
wrong, and stamps its records ``clock_synced: false``. When NTP syncs the clock, the
monotonic clock of the same boot tells exactly when each record happened:
``wall = offset + mono`` with ``offset = synced wall - monotonic`` read at the moment
the sync is seen. That rewrites, for the current boot only:

- sealed records above ``published_upto`` (never handed to the broker, so their bytes
  may still change); records already possibly delivered stay byte-identical and the fleet
  re-bases them itself from any synced record of the same boot;
- the open buckets and the session in progress.

Every rewritten record says ``clock_synced: true``; other boots are left alone (their
monotonic clock was another one).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from device.outbox.store import Outbox

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def wall_at(offset_s: float, mono: float) -> datetime:
    """The synced wall time of monotonic time ``mono`` given ``offset_s = wall - mono``."""
    return EPOCH + timedelta(seconds=offset_s + mono)


def rebase_boot(outbox: Outbox, *, boot_id: str, offset_s: float) -> int:
    """Re-base what may still change of ``boot_id``; return how many rows were rewritten."""
    frozen = outbox.published_upto()
    changed = 0
    with outbox.transaction() as db:
        rows = db.execute(
            "SELECT seq, body FROM records WHERE seq > ? "
            "AND json_extract(body, '$.boot_id') = ? "
            "AND json_extract(body, '$.clock_synced') = 0",
            (frozen, boot_id),
        ).fetchall()
        updates = []
        for seq, body in rows:
            fields = json.loads(body)
            fields["start"] = wall_at(offset_s, fields["mono_start"])
            fields["clock_synced"] = True
            updates.append((outbox.record_json(fields), seq))
        db.executemany("UPDATE records SET body = ? WHERE seq = ?", updates)
        changed += len(updates)

        buckets = db.execute(
            "SELECT input, bucket, visit_id, mono_start FROM open_buckets "
            "WHERE boot_id = ? AND clock_synced = 0",
            (boot_id,),
        ).fetchall()
        db.executemany(
            "UPDATE open_buckets SET wall_start = ?, clock_synced = 1 "
            "WHERE input = ? AND boot_id = ? AND bucket = ? AND visit_id = ?",
            [
                (wall_at(offset_s, mono).isoformat(), name, boot_id, bucket, visit)
                for name, bucket, visit, mono in buckets
            ],
        )
        changed += len(buckets)

        session = db.execute(
            "SELECT first_mono FROM open_session WHERE boot_id = ? AND clock_synced = 0",
            (boot_id,),
        ).fetchone()
        if session is not None:
            db.execute(
                "UPDATE open_session SET first_wall = ?, clock_synced = 1",
                (wall_at(offset_s, session[0]).isoformat(),),
            )
            changed += 1
    return changed
