"""Values the contract allows but no exhibit can send: judged one record at a time.

The contract (:mod:`broker.messages`) bounds types and shapes; some valid-looking values
still cannot come from a real Pi, and left in the database they break what is computed
from them later (a monotonic time of 10^12 s re-based against a synced reference is a
date past year 9999; a seq of 10^15 makes a data gap that never closes). So ingestion
sets such a *record* aside, with its reason, and stores the other records of its
message; a heartbeat, status or self-test result is one value and is set aside whole.

- wall times (``start``, ``at``, ``sent_at``) outside [1970-01-01, 2100-01-01): a Pi
  without a real-time clock starts at the epoch, never before; nothing runs until 2100;
- monotonic times (``mono_start``, ``uptime_s``) over ten years: a boot does not last
  that long, and within ten years any re-based time stays a real date;
- a seq more than ``max_jump`` past the exhibit's highest stored seq (a setting,
  ``FLEET_INGEST_MAX_SEQ_JUMP``): more than any outbox holds, so the gap could never close.

Pure functions; :mod:`fleet_api.store.ingest` applies them under the exhibit's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from broker.messages import CommandDone, ConfigReport, Heartbeat, SelfTestResult, Status
from fleet_api.inbound import QuarantineReason
from fleet_api.record_rows import RecordRow

WALL_MIN = datetime(1970, 1, 1, tzinfo=UTC)
WALL_MAX = datetime(2100, 1, 1, tzinfo=UTC)
MONO_MAX_S = 10 * 365.25 * 86_400
"""Ten years of monotonic seconds (315,576,000)."""
DEFAULT_MAX_SEQ_JUMP = 1_000_000


@dataclass(frozen=True, slots=True)
class SetAside:
    """One record not stored, and why."""

    seq: int
    reason: QuarantineReason
    why: str


@dataclass(frozen=True, slots=True)
class Judged:
    """A message's records split into those to store and those set aside."""

    kept: list[RecordRow]
    set_aside: list[SetAside]
    highest: int
    """The exhibit's highest seq once the kept records are stored."""


def wall_problem(at: datetime | None, name: str) -> str | None:
    """Why wall time ``at`` cannot be a Pi's (None: it can)."""
    if at is None or WALL_MIN <= at < WALL_MAX:
        return None
    return f"{name} {at.isoformat()} is outside 1970-01-01..2100-01-01"


def mono_problem(seconds: float, name: str) -> str | None:
    """Why monotonic time ``seconds`` cannot be a boot's (None: it can)."""
    if seconds <= MONO_MAX_S:
        return None
    return f"{name} {seconds:g} s is more than ten years of uptime"


def judge_records(rows: Sequence[RecordRow], *, highest: int, max_jump: int) -> Judged:
    """Keep the plausible records of one message, in order; ``highest``: stored so far."""
    kept: list[RecordRow] = []
    set_aside: list[SetAside] = []
    for row in rows:
        seq, start, mono = row[1], row[3], row[4]
        problem = wall_problem(start, "start") or mono_problem(mono, "mono_start")
        if problem is not None:
            set_aside.append(SetAside(seq, QuarantineReason.OUT_OF_RANGE, problem))
        elif seq > highest + max_jump:
            set_aside.append(
                SetAside(
                    seq,
                    QuarantineReason.SEQ_JUMP,
                    f"seq {seq} is more than {max_jump} past the highest stored ({highest}); "
                    "FLEET_INGEST_MAX_SEQ_JUMP sets how far a seq may jump",
                )
            )
        else:
            kept.append(row)
            highest = max(highest, seq)
    return Judged(kept, set_aside, highest)


def message_problem(
    message: Status | Heartbeat | SelfTestResult | CommandDone | ConfigReport,
) -> str | None:
    """Why a heartbeat, status, self-test result, command or config report cannot be an
    exhibit's.

    A count batch's ``sent_at`` is not judged: the fleet does not use it, and its records
    are judged one by one instead.
    """
    if isinstance(message, Heartbeat):
        return wall_problem(message.at, "at") or mono_problem(message.uptime_s, "uptime_s")
    return wall_problem(message.at, "at")


def describe(set_aside: Sequence[SetAside], *, stored: int) -> str:
    """The quarantine detail of a message with records set aside."""
    shown = "; ".join(f"seq {item.seq}: {item.why}" for item in set_aside[:10])
    more = f"; and {len(set_aside) - 10} more" if len(set_aside) > 10 else ""
    return f"{len(set_aside)} record(s) set aside, {stored} stored: {shown}{more}"
