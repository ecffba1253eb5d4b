"""The durable outbox: interactions are counted here before anything else happens.

One SQLite file in WAL mode with ``synchronous=FULL`` (a commit survives a power cut).
Three tables:

- ``open_buckets``: the running count per (input, boot, bucket, visit). A bucket is a
  slot of ``bucket_seconds`` on the monotonic clock of one boot; every interaction
  drained from the agent's queue at once is added in one transaction.
- ``records``: sealed records waiting for the broker's PUBACK, keyed by ``seq``, stored as
  the exact JSON that is sent, so a resend after a crash is byte-identical.
- ``meta``: ``next_seq``, the persistent counter that makes seqs gap-free and never
  reused (it only grows, even when every record has been deleted).

Sealing moves a bucket from ``open_buckets`` to ``records`` with the next seq, in the
same transaction that advances ``next_seq``: a kill -9 at any instant leaves either the
open bucket or the sealed record, never both and never neither.

A bucket sealed early (``seal_all()`` on flush) may be followed by another record of the
same bucket; the fleet sums records, so counts stay exact.

The connection is used by one thread at a time (the agent's worker).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from broker.messages import SEQ_MAX, CountRecord
from device.errors import OutboxError
from device.events import Interaction

SCHEMA_VERSION = 1
MAX_COUNT_PER_RECORD = 1_000_000  # CountRecord.count's bound; larger buckets are split

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS open_buckets (
    input TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    visit_id INTEGER NOT NULL DEFAULT 0,
    mono_start REAL NOT NULL,
    wall_start TEXT NOT NULL,
    seconds REAL NOT NULL,
    count INTEGER NOT NULL,
    clock_synced INTEGER NOT NULL,
    PRIMARY KEY (input, boot_id, bucket, visit_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1);
"""

_OPEN_COLUMNS = (
    "input, boot_id, bucket, visit_id, mono_start, wall_start, seconds, count, clock_synced"
)


@dataclass(frozen=True, slots=True)
class OldestPending:
    """The oldest record still waiting for an acknowledgement."""

    seq: int
    start: datetime


class Outbox:
    """The SQLite outbox of one exhibit (see the module docstring)."""

    def __init__(self, path: Path, *, bucket_seconds: float, readonly: bool = False) -> None:
        if not 0 < bucket_seconds <= 86_400:
            raise ValueError(f"bucket_seconds must be in (0, 86400], got {bucket_seconds}")
        self.path = path
        self.bucket_seconds = bucket_seconds
        try:
            if readonly:
                uri = f"{path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA busy_timeout = 5000")
            if not readonly:
                self._setup()
        except sqlite3.Error as exc:
            self._db.close()
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    def _setup(self) -> None:
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OutboxError(f"{self.path}: the filesystem does not support WAL ({mode})")
        # WAL with NORMAL may lose the last commits on power loss; FULL makes each durable.
        self._db.execute("PRAGMA synchronous = FULL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise OutboxError(
                f"{self.path} has schema {version}, newer than this agent's {SCHEMA_VERSION}; "
                "upgrade the agent"
            )
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: cannot start a transaction: {exc}") from exc
        try:
            yield self._db
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise OutboxError(f"{self.path}: {exc}") from exc
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise OutboxError(f"{self.path}: commit failed: {exc}") from exc

    def close(self) -> None:
        """Close the database (committed data is already on disk)."""
        self._db.close()

    # -- counting ------------------------------------------------------------------------

    def add(
        self,
        interactions: Sequence[Interaction],
        *,
        boot_id: str,
        clock_synced: bool,
        visit_id: int | None = None,
    ) -> int:
        """Count ``interactions`` into their open buckets in one durable transaction."""
        if not interactions:
            return 0
        size = self.bucket_seconds
        grouped: dict[tuple[str, int], tuple[int, Interaction]] = {}
        for item in interactions:
            key = (item.input, math.floor(item.mono / size))
            count, first = grouped.get(key, (0, item))
            grouped[key] = (count + 1, first)
        rows = []
        for (name, bucket), (count, first) in grouped.items():
            mono_start = bucket * size
            wall_start = first.wall - timedelta(seconds=first.mono - mono_start)
            visit = visit_id or 0
            wall, synced = wall_start.isoformat(), int(clock_synced)
            rows.append((name, boot_id, bucket, visit, mono_start, wall, size, count, synced))
        with self._transaction() as db:
            db.executemany(
                f"INSERT INTO open_buckets ({_OPEN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (input, boot_id, bucket, visit_id) "
                "DO UPDATE SET count = count + excluded.count",
                rows,
            )
        return len(interactions)

    # -- sealing -------------------------------------------------------------------------

    def next_due(self, boot_id: str) -> float | None:
        """Monotonic time at which the earliest open bucket of ``boot_id`` ends, if any."""
        row = self._db.execute(
            "SELECT MIN(mono_start + seconds) FROM open_buckets WHERE boot_id = ?", (boot_id,)
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def seal_due(self, *, boot_id: str, now_mono: float) -> list[int]:
        """Seal the buckets of ``boot_id`` whose time is up; return the new seqs."""
        return self._seal("boot_id = ? AND mono_start + seconds <= ?", (boot_id, now_mono))

    def seal_stale(self, *, boot_id: str) -> list[int]:
        """Seal buckets that can never continue: other boots, or another bucket length."""
        return self._seal("boot_id != ? OR seconds != ?", (boot_id, self.bucket_seconds))

    def seal_all(self) -> list[int]:
        """Seal every open bucket now (flush)."""
        return self._seal("1", ())

    def _seal(self, where: str, params: tuple[object, ...]) -> list[int]:
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_OPEN_COLUMNS} FROM open_buckets WHERE {where} "
                "ORDER BY mono_start, input, visit_id",
                params,
            ).fetchall()
            if not rows:
                return []
            next_seq = self._next_seq(db)
            sealed: list[tuple[int, str, str]] = []
            for name, boot, _bucket, visit, mono_start, wall, seconds, count, synced in rows:
                for part in _split(int(count)):
                    if next_seq > SEQ_MAX:
                        raise OutboxError(f"{self.path}: seq space exhausted")
                    fields = {
                        "seq": next_seq,
                        "input": name,
                        "start": datetime.fromisoformat(wall),
                        "mono_start": mono_start,
                        "seconds": seconds,
                        "count": part,
                        "boot_id": boot,
                        "clock_synced": bool(synced),
                        "visit_id": visit or None,
                    }
                    record = self._record(fields)
                    sealed.append((next_seq, record.type, record.to_payload().decode()))
                    next_seq += 1
            db.executemany("INSERT INTO records (seq, kind, body) VALUES (?, ?, ?)", sealed)
            db.executemany(
                "DELETE FROM open_buckets "
                "WHERE input = ? AND boot_id = ? AND bucket = ? AND visit_id = ?",
                [row[:4] for row in rows],
            )
            db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (next_seq,))
        return [seq for seq, _kind, _body in sealed]

    def _record(self, fields: dict[str, Any]) -> CountRecord:
        try:
            return CountRecord.model_validate(fields)
        except ValidationError as exc:
            # Rolls the seal back: the bucket stays open and the error surfaces, never a
            # silently dropped count.
            raise OutboxError(
                f"{self.path}: open bucket of {fields['input']!r} is not a valid record: {exc}"
            ) from exc

    # -- delivery ------------------------------------------------------------------------

    def pending(self, limit: int, *, after_seq: int = 0) -> list[CountRecord]:
        """Up to ``limit`` sealed records with seq > ``after_seq``, oldest first."""
        rows = self._db.execute(
            "SELECT body FROM records WHERE seq > ? AND kind = 'count' ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [CountRecord.model_validate_json(body) for (body,) in rows]

    def delete(self, seqs: Iterable[int]) -> int:
        """Forget acknowledged records; return how many were deleted."""
        params = [(seq,) for seq in seqs]
        if not params:
            return 0
        with self._transaction() as db:
            cursor = db.executemany("DELETE FROM records WHERE seq = ?", params)
            return cursor.rowcount

    # -- inspection ----------------------------------------------------------------------

    def depth(self) -> int:
        """Sealed records waiting for an acknowledgement."""
        return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def open_buckets(self) -> int:
        """Buckets still counting."""
        return int(self._db.execute("SELECT COUNT(*) FROM open_buckets").fetchone()[0])

    def oldest_seq(self) -> int | None:
        """The lowest seq still waiting, or None if nothing is."""
        row = self._db.execute("SELECT MIN(seq) FROM records").fetchone()
        return None if row[0] is None else int(row[0])

    def oldest(self) -> OldestPending | None:
        """The oldest record still waiting, with its bucket's wall start."""
        row = self._db.execute("SELECT body FROM records ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        record = CountRecord.model_validate_json(row[0])
        return OldestPending(record.seq, record.start)

    def last_seq(self) -> int:
        """The highest seq ever given out (0 if none)."""
        return self._next_seq(self._db) - 1

    @staticmethod
    def _next_seq(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0])


def _split(count: int) -> list[int]:
    parts = [MAX_COUNT_PER_RECORD] * (count // MAX_COUNT_PER_RECORD)
    if count % MAX_COUNT_PER_RECORD or not parts:
        parts.append(count % MAX_COUNT_PER_RECORD)
    return parts
