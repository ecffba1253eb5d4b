"""Engagement sessions: a burst of interactions on the exhibit, ended by an idle timeout.

A session starts with an interaction on any input and goes on while each next
interaction comes less than ``idle_s`` (default 30 s) after the previous one. It ends at
its last interaction; once ``idle_s`` has passed after that, it is sealed as a
``SessionRecord`` (first interaction's wall and monotonic time, dwell = last - first on
the monotonic clock, number of interactions) into the same seq stream as the counts.

A session also ends when the visit assignment changes (it belongs to one visit), when the
boot changes (monotonic time restarts), and when a flush asks for everything now.

The session in progress is a row of the outbox, written in the same transaction as the
counts of its interactions: after a kill -9 or a power cut it resumes (same boot, within
``idle_s``) or is sealed exactly as it was (its end is its last interaction either way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.limits import MAX_SPAN_S
from device.core.events import Interaction
from device.outbox.store import MAX_COUNT_PER_RECORD, Outbox

MAX_DWELL_S = float(MAX_SPAN_S)  # SessionRecord.dwell_s's bound: a longer burst is two sessions

_COLUMNS = "boot_id, first_mono, last_mono, first_wall, clock_synced, visit_id, interactions"


@dataclass(slots=True)
class OpenSession:
    """The session in progress."""

    boot_id: str
    first_mono: float
    last_mono: float
    first_wall: datetime
    clock_synced: bool
    visit_id: int | None
    interactions: int

    def record_fields(self) -> dict[str, Any]:
        """The fields of its ``SessionRecord`` (all but seq)."""
        return {
            "type": "session",
            "start": self.first_wall,
            "mono_start": self.first_mono,
            "dwell_s": self.last_mono - self.first_mono,
            "interactions": self.interactions,
            "boot_id": self.boot_id,
            "clock_synced": self.clock_synced,
            "visit_id": self.visit_id,
        }


class Sessions:
    """Turns interactions into sessions, persisted in ``outbox`` (see the module docstring)."""

    def __init__(self, outbox: Outbox, *, idle_s: float) -> None:
        self._outbox = outbox
        self.idle_s = idle_s
        self.current = self.load()

    def load(self) -> OpenSession | None:
        """Read the session in progress from the outbox (e.g. after a rebase or restart)."""
        row = self._outbox.db.execute(f"SELECT {_COLUMNS} FROM open_session").fetchone()
        if row is None:
            return None
        boot, first, last, wall, synced, visit, count = row
        return OpenSession(
            boot, first, last, datetime.fromisoformat(wall), bool(synced), visit or None, count
        )

    def add(
        self,
        interactions: Sequence[Interaction],
        *,
        boot_id: str,
        clock_synced: bool,
        visit_id: int | None,
    ) -> list[int]:
        """Extend or start sessions with ``interactions``; return the seqs of sealed ones.

        Call inside the outbox transaction that counts the same interactions.
        """
        sealed: list[int] = []
        for item in sorted(interactions, key=lambda i: i.mono):
            current = self.current
            if current is not None and not self._continues(current, item, boot_id, visit_id):
                sealed += self._seal()
                current = None
            if current is None:
                self.current = OpenSession(
                    boot_id, item.mono, item.mono, item.wall, clock_synced, visit_id, 1
                )
            else:
                current.last_mono = max(current.last_mono, item.mono)
                current.interactions += 1
        if interactions:
            self._save()
        return sealed

    def _continues(
        self, session: OpenSession, item: Interaction, boot_id: str, visit_id: int | None
    ) -> bool:
        return (
            session.boot_id == boot_id
            and session.visit_id == visit_id
            and item.mono - session.last_mono < self.idle_s
            and item.mono - session.first_mono <= MAX_DWELL_S
            and session.interactions < MAX_COUNT_PER_RECORD
        )

    def due(self) -> float | None:
        """Monotonic time at which the session in progress ends if nothing happens."""
        return None if self.current is None else self.current.last_mono + self.idle_s

    def close_idle(self, *, boot_id: str, now_mono: float) -> list[int]:
        """Seal the session in progress if it has been idle long enough (or is of another boot)."""
        current = self.current
        if current is None:
            return []
        if current.boot_id == boot_id and now_mono - current.last_mono < self.idle_s:
            return []
        return self._seal()

    def close(self) -> list[int]:
        """Seal the session in progress now, if there is one (flush)."""
        return self._seal() if self.current is not None else []

    def _seal(self) -> list[int]:
        assert self.current is not None
        with self._outbox.transaction() as db:
            seqs = self._outbox.append([self.current.record_fields()])
            db.execute("DELETE FROM open_session")
        self.current = None
        return seqs

    def _save(self) -> None:
        session = self.current
        assert session is not None
        with self._outbox.transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO open_session (id, {_COLUMNS}) VALUES (1,?,?,?,?,?,?,?)",
                (
                    session.boot_id,
                    session.first_mono,
                    session.last_mono,
                    session.first_wall.isoformat(),
                    int(session.clock_synced),
                    session.visit_id or 0,
                    session.interactions,
                ),
            )
