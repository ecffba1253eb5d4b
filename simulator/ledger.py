"""The ground-truth ledger: one JSON line per interaction the simulator performed.

Each line: ``{"exhibit_id", "input", "at" (UTC ISO 8601), "visit_id"}``, where
``visit_id`` is the true visit (null: none, e.g. a check at the depot), and
``"at_risk": true`` on a press made in the instant before a power cut, which may
honestly be lost (counted once or not at all). ``verify`` compares the totals with what
the fleet API reports.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import IO

from simulator.errors import LedgerError

Key = tuple[int | None, str, str]
"""(visit_id, exhibit_id, input)"""


class Ledger:
    """Append-only ledger file; thread-safe, flushed line by line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def record(
        self,
        *,
        exhibit_id: str,
        input: str,
        at: datetime,
        visit_id: int | None,
        at_risk: bool = False,
    ) -> None:
        """Append one interaction (``at_risk``: made in the instant before a power cut)."""
        entry: dict[str, object] = {
            "exhibit_id": exhibit_id,
            "input": input,
            "at": at.isoformat(),
            "visit_id": visit_id,
        }
        if at_risk:
            entry["at_risk"] = True
        line = json.dumps(entry)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()


def totals(path: Path, *, at_risk: bool = False) -> Counter[Key]:
    """Count the ledger's interactions per (visit, exhibit, input); the at-risk ones if asked."""
    counts: Counter[Key] = Counter()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LedgerError(f"ledger {path} does not exist: run 'exhibit-sim run' first") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if bool(entry.get("at_risk")) == at_risk:
                counts[(entry["visit_id"], entry["exhibit_id"], entry["input"])] += 1
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LedgerError(f"{path}:{number}: not a ledger line ({exc})") from None
    return counts
