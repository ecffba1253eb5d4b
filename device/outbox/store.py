"""The durable outbox: interactions are counted here before anything else happens.

One SQLite file in WAL mode with ``synchronous=FULL`` (a commit survives a power cut);
its tables are listed in ``device.outbox.schema``. Interactions are added to open buckets (a
bucket is a slot of ``bucket_seconds`` on the monotonic clock of one boot), every
interaction drained from the agent's queue at once in one transaction. Sealed records
(counts and sessions, one seq stream) wait for the broker's PUBACK as the exact JSON that
is sent, so a resend after a crash is byte-identical. ``next_seq`` is the persistent
counter: seqs are gap-free and never reused once published.

Sealing moves a bucket from ``open_buckets`` to ``records`` with the next seq, in the same
transaction that advances ``next_seq``: a kill -9 at any instant leaves either the open
bucket or the sealed record, never both and never neither.

Records above ``published_upto`` have never left the Pi, so their content and even their
seq may still change: ``device.outbox.compaction`` merges them when the outbox is full, and
``device.outbox.rebasing`` corrects their wall times when the clock gets synced. Records at or
below it are frozen.

The connection is used by one thread at a time (the agent's worker).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broker.errors import MessageError
from broker.limits import MAX_AMOUNT, SEQ_MAX
from device.core.errors import IdentityMismatch, OutboxError
from device.core.events import Interaction
from device.outbox.schema import SCHEMA_STATEMENTS, SCHEMA_VERSION
from device.wire.codec import record_json

if TYPE_CHECKING:
    from broker.messages import CountRecord, SessionRecord

MAX_COUNT_PER_RECORD = MAX_AMOUNT  # CountRecord.count's bound; larger buckets are split

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

    def __init__(
        self,
        path: Path,
        *,
        bucket_seconds: float,
        readonly: bool = False,
        exhibit_id: str | None = None,
    ) -> None:
        if not 0 < bucket_seconds <= 86_400:
            raise ValueError(f"bucket_seconds must be in (0, 86400], got {bucket_seconds}")
        self.path = path
        self.bucket_seconds = bucket_seconds
        self._depth = 0  # nesting of transaction()
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
                self._setup(exhibit_id)
        except sqlite3.Error as exc:
            self._db.close()
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    def _setup(self, exhibit_id: str | None) -> None:
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OutboxError(f"{self.path}: the filesystem does not support WAL ({mode})")
        # WAL with NORMAL may lose the last commits on power loss; FULL makes each durable.
        self._db.execute("PRAGMA synchronous = FULL")
        # The outbox is read in small pages: a 1 MiB cache instead of SQLite's 2 MiB default
        # keeps the agent's footprint down without a measurable cost.
        self._db.execute("PRAGMA cache_size = -1024")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise OutboxError(
                f"{self.path} has schema {version}, newer than this agent's {SCHEMA_VERSION}; "
                "upgrade the agent"
            )
        with self.transaction() as db:
            for statement in SCHEMA_STATEMENTS:
                db.execute(statement)
            if version == 1:
                # Version 1 had no publication mark: any record it holds may have been
                # sent, so all of them are frozen.
                self.set_meta("published_upto", self._next_seq(db) - 1)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if exhibit_id is not None:
                owner = self.meta("exhibit_id")
                if owner is None:
                    self.set_meta("exhibit_id", exhibit_id)
                elif owner != exhibit_id:
                    raise IdentityMismatch(
                        f"the outbox {self.path} holds the records of {owner!r}, not of the "
                        f"configured exhibit {exhibit_id!r}; fix EXHIBIT_EXHIBIT_ID, or "
                        "re-provision with 'exhibit-agent provision --force'"
                    )

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for the modules that keep their own tables here."""
        return self._db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One durable transaction; nested uses join the outermost one."""
        if self._depth:
            self._depth += 1
            try:
                yield self._db
            finally:
                self._depth -= 1
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: cannot start a transaction: {exc}") from exc
        self._depth = 1
        try:
            yield self._db
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise OutboxError(f"{self.path}: {exc}") from exc
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise OutboxError(f"{self.path}: commit failed: {exc}") from exc

    def close(self) -> None:
        """Close the database (committed data is already on disk)."""
        self._db.close()

    # -- small persistent values ---------------------------------------------------------

    def meta(self, key: str, default: Any = None) -> Any:
        """A value of the ``meta`` table (JSON-decoded), or ``default``."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None or row[0] is None:
            return default
        value = row[0]
        return json.loads(value) if isinstance(value, str) else value

    def set_meta(self, key: str, value: Any) -> None:
        """Set a ``meta`` value (JSON-encoded unless an integer); inside a transaction."""
        stored: int | str | None
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            stored = value
        else:
            stored = json.dumps(value)
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, stored))

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
        with self.transaction() as db:
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
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT {_OPEN_COLUMNS} FROM open_buckets WHERE {where} "
                "ORDER BY mono_start, input, visit_id",
                params,
            ).fetchall()
            if not rows:
                return []
            records: list[dict[str, Any]] = []
            for name, boot, _bucket, visit, mono_start, wall, seconds, count, synced in rows:
                for part in _split(int(count)):
                    records.append(
                        {
                            "type": "count",
                            "input": name,
                            "start": datetime.fromisoformat(wall),
                            "mono_start": mono_start,
                            "seconds": seconds,
                            "count": part,
                            "boot_id": boot,
                            "clock_synced": bool(synced),
                            "visit_id": visit or None,
                        }
                    )
            seqs = self.append(records)
            db.executemany(
                "DELETE FROM open_buckets "
                "WHERE input = ? AND boot_id = ? AND bucket = ? AND visit_id = ?",
                [row[:4] for row in rows],
            )
        return seqs

    def append(self, records: list[dict[str, Any]]) -> list[int]:
        """Seal ``records`` (fields without ``seq``) with the next seqs; return them."""
        with self.transaction() as db:
            next_seq = self._next_seq(db)
            rows: list[tuple[int, str, str]] = []
            for fields in records:
                if next_seq > SEQ_MAX:
                    raise OutboxError(f"{self.path}: seq space exhausted")
                body = self.record_json({**fields, "seq": next_seq})
                rows.append((next_seq, str(fields.get("type", "count")), body))
                next_seq += 1
            db.executemany("INSERT INTO records (seq, kind, body) VALUES (?, ?, ?)", rows)
            db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (next_seq,))
        return [seq for seq, _kind, _body in rows]

    def record_json(self, fields: dict[str, Any]) -> str:
        """``fields`` as a record's exact JSON; OutboxError (rolling back) if not a record."""
        try:
            return record_json(fields)
        except MessageError as exc:
            # Rolls the seal back: the data stays where it was and the error surfaces,
            # never a silently dropped count.
            raise OutboxError(f"{self.path}: {fields} is not a valid record: {exc}") from exc

    # -- delivery ------------------------------------------------------------------------

    def pending_bodies(self, limit: int, *, after_seq: int = 0) -> list[tuple[int, str]]:
        """Up to ``limit`` sealed records with seq > ``after_seq`` as (seq, exact JSON)."""
        return self._db.execute(
            "SELECT seq, body FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()

    def pending(self, limit: int, *, after_seq: int = 0) -> list[CountRecord | SessionRecord]:
        """Up to ``limit`` sealed records with seq > ``after_seq``, oldest first, parsed.

        For inspection (tests, benchmarks): it parses with the contract's pydantic models,
        which the running agent never imports.
        """
        rows = self.pending_bodies(limit, after_seq=after_seq)
        return [parse_record(body) for _seq, body in rows]

    def published_upto(self) -> int:
        """Every seq at or below this may have reached the broker: it is frozen."""
        return int(self.meta("published_upto", 0))

    def mark_published(self, upto: int) -> None:
        """Freeze every record up to ``upto`` before it is handed to the broker link."""
        if upto > self.published_upto():
            self.set_meta("published_upto", upto)

    def delete(self, seqs: Iterable[int], *, acked_at: datetime | None = None) -> int:
        """Forget acknowledged records (noting when, if given); return how many went."""
        params = [(seq,) for seq in seqs]
        if not params:
            return 0
        with self.transaction() as db:
            cursor = db.executemany("DELETE FROM records WHERE seq = ?", params)
            if acked_at is not None:
                self.set_meta("last_ack_at", acked_at.isoformat())
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
        """The oldest record still waiting, with its start."""
        row = self._db.execute("SELECT body FROM records ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        record = json.loads(row[0])
        return OldestPending(int(record["seq"]), datetime.fromisoformat(record["start"]))

    def last_seq(self) -> int:
        """The highest seq given out so far (0 if none)."""
        return self._next_seq(self._db) - 1

    @staticmethod
    def _next_seq(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0])


def parse_record(body: str) -> CountRecord | SessionRecord:
    """A stored record back as its model (the first field of the JSON names its type)."""
    from broker.messages import CountRecord, SessionRecord  # inspection only: see pending()

    # No TypeAdapter for the union: each one compiles a validator and costs memory.
    if body.startswith('{"type":"session"'):
        return SessionRecord.model_validate_json(body)
    return CountRecord.model_validate_json(body)


def _split(count: int) -> list[int]:
    parts = [MAX_COUNT_PER_RECORD] * (count // MAX_COUNT_PER_RECORD)
    if count % MAX_COUNT_PER_RECORD or not parts:
        parts.append(count % MAX_COUNT_PER_RECORD)
    return parts
