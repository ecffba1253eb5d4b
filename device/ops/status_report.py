"""What ``exhibit-agent status`` shows, read from the outbox without disturbing the agent.

The outbox is opened read-only (WAL lets it be read while the service writes), so the
command is safe to run at any time, as any user who can read the data directory.
"""

from __future__ import annotations

from typing import Any

from device.core.clock import SystemClock
from device.core.errors import IdentityMismatch
from device.ops import identity
from device.ops.instance import agent_running
from device.outbox.store import Outbox
from device.settings.config import AgentSettings
from device.wire.codec import SelfTestResult


def _identity_state(settings: AgentSettings) -> str:
    try:
        return "ok" if identity.check(settings) else "not provisioned"
    except IdentityMismatch as exc:
        return f"MISMATCH: {exc}"


def _retained(outbox: Outbox) -> tuple[int, int | None]:
    """Confirmed records kept for a resend, and the oldest seq held at all (an outbox
    written by an agent older than custody has no ``retained`` table yet)."""
    db = outbox.db
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'retained'").fetchone() is None:
        return 0, outbox.oldest_seq()
    count, oldest = db.execute("SELECT COUNT(*), MIN(seq) FROM retained").fetchone()
    pending = outbox.oldest_seq()
    held = [seq for seq in (oldest, pending) if seq is not None]
    return int(count), min(held) if held else None


def status_report(settings: AgentSettings) -> dict[str, Any]:
    """Outbox depth, confirmations, retention, clock state, assignment, self-test, identity."""
    clock = SystemClock()
    path = settings.outbox_path
    report: dict[str, Any] = {
        "exhibit_id": settings.exhibit_id,
        "running": agent_running(settings.data_dir),
        "identity": _identity_state(settings),
        "clock_synced": clock.synced(),
        "boot_id": clock.boot_id(),
        "outbox": str(path),
    }
    if not path.exists():
        report.update(
            pending=0,
            oldest_seq=None,
            oldest_start=None,
            open_buckets=0,
            last_seq=0,
            last_ack_at=None,
            retained=0,
            retained_from_seq=None,
            visit_id=None,
            self_test=None,
        )
        return report
    outbox = Outbox(path, bucket_seconds=settings.bucket_seconds, readonly=True)
    try:
        oldest = outbox.oldest()
        last_test = outbox.meta("selftest_last")
        retained, held_from = _retained(outbox)
        report.update(
            pending=outbox.depth(),
            oldest_seq=oldest.seq if oldest else None,
            oldest_start=oldest.start.isoformat() if oldest else None,
            open_buckets=outbox.open_buckets(),
            last_seq=outbox.last_seq(),
            last_ack_at=outbox.meta("last_ack_at"),
            retained=retained,
            retained_from_seq=held_from,
            visit_id=outbox.meta("visit_id"),
            self_test=None if last_test is None else _summary(str(last_test)),
        )
    finally:
        outbox.close()
    return report


def _summary(payload: str) -> str:
    result = SelfTestResult.from_json(payload)
    missing = [name for name, seen in result.seen.items() if not seen]
    verdict = "passed" if result.passed else f"FAILED (not seen: {', '.join(missing)})"
    return f"{verdict} at {result.at.isoformat()}"
