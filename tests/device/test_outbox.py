"""The SQLite outbox: counting, sealing by time, gap-free seqs, durability, kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device.core.errors import OutboxError
from device.core.events import Interaction
from device.outbox import store as outbox_module
from device.outbox.schema import SCHEMA_VERSION
from device.outbox.store import Outbox

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BOOT = "boot-a"


def press(name: str, mono: float) -> Interaction:
    """An interaction at ``mono``, with a wall clock that is T0 at mono 1000."""
    return Interaction(name, T0 + timedelta(seconds=mono - 1000), mono)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "outbox.sqlite3"


def test_pragmas_make_commits_durable(path: Path) -> None:
    box = Outbox(path, bucket_seconds=60)
    try:
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        box.close()
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_interactions_count_into_their_bucket_and_seal_as_a_record(path: Path) -> None:
    box = Outbox(path, bucket_seconds=60)
    box.add([press("button", 1001.0), press("button", 1010.0)], boot_id=BOOT, clock_synced=True)
    box.add([press("button", 1019.5), press("motion", 1030.0)], boot_id=BOOT, clock_synced=False)
    assert box.open_buckets() == 2
    assert box.depth() == 0

    assert box.seal_all() == [1, 2]
    button, motion = box.pending(10)
    assert (button.input, button.count, button.seq) == ("button", 3, 1)
    # Bucket 16 of a 60 s grid on the monotonic clock: 960..1020 s since boot.
    assert button.mono_start == 960.0
    assert button.seconds == 60.0
    assert button.start == T0 - timedelta(seconds=40)
    assert button.boot_id == BOOT
    assert button.clock_synced is True
    assert button.visit_id is None
    assert (motion.input, motion.count, motion.clock_synced) == ("motion", 1, False)
    assert box.open_buckets() == 0
    assert box.depth() == 2
    box.close()


def test_buckets_seal_when_their_time_is_up(path: Path) -> None:
    box = Outbox(path, bucket_seconds=10)
    box.add([press("button", 1001.0), press("button", 1012.0)], boot_id=BOOT, clock_synced=True)
    assert box.next_due(BOOT) == 1010.0
    assert box.seal_due(boot_id=BOOT, now_mono=1009.99) == []
    assert box.seal_due(boot_id=BOOT, now_mono=1010.0) == [1]
    assert box.next_due(BOOT) == 1020.0
    assert box.seal_due(boot_id=BOOT, now_mono=1025.0) == [2]
    assert box.next_due(BOOT) is None
    assert [r.mono_start for r in box.pending(10)] == [1000.0, 1010.0]
    box.close()


def test_a_bucket_sealed_early_continues_as_another_record(path: Path) -> None:
    box = Outbox(path, bucket_seconds=60)
    box.add([press("button", 1001.0)], boot_id=BOOT, clock_synced=True)
    box.seal_all()
    box.add([press("button", 1002.0), press("button", 1003.0)], boot_id=BOOT, clock_synced=True)
    box.seal_all()
    records = box.pending(10)
    assert [(r.seq, r.mono_start, r.count) for r in records] == [(1, 960.0, 1), (2, 960.0, 2)]
    box.close()


def test_seqs_are_gap_free_and_never_reused_after_reopen(path: Path) -> None:
    box = Outbox(path, bucket_seconds=1)
    for i in range(5):
        box.add([press("button", 1000.0 + i)], boot_id=BOOT, clock_synced=True)
    assert box.seal_all() == [1, 2, 3, 4, 5]
    assert box.delete([1, 2, 3, 4, 5]) == 5
    assert box.depth() == 0
    box.add([press("button", 1010.0)], boot_id=BOOT, clock_synced=True)
    box.close()

    reopened = Outbox(path, bucket_seconds=1)
    assert reopened.open_buckets() == 1  # the committed count survived
    assert reopened.last_seq() == 5
    assert reopened.seal_all() == [6]
    assert [r.seq for r in reopened.pending(10)] == [6]
    reopened.close()


def test_pending_pages_by_seq_and_delete_only_removes_what_was_acked(path: Path) -> None:
    box = Outbox(path, bucket_seconds=1)
    box.add([press("button", 1000.0 + i) for i in range(7)], boot_id=BOOT, clock_synced=True)
    box.seal_all()
    assert [r.seq for r in box.pending(3)] == [1, 2, 3]
    assert [r.seq for r in box.pending(3, after_seq=3)] == [4, 5, 6]
    assert [r.seq for r in box.pending(3, after_seq=6)] == [7]
    assert box.delete([2, 4, 99]) == 2
    assert [r.seq for r in box.pending(10)] == [1, 3, 5, 6, 7]
    assert box.oldest_seq() == 1
    oldest = box.oldest()
    assert oldest is not None
    assert oldest.seq == 1
    box.close()


def test_buckets_of_another_boot_or_bucket_length_are_sealed_on_open(path: Path) -> None:
    box = Outbox(path, bucket_seconds=60)
    box.add([press("button", 1001.0)], boot_id="old-boot", clock_synced=False)
    box.add([press("motion", 1001.0)], boot_id=BOOT, clock_synced=True)
    assert box.seal_stale(boot_id=BOOT) == [1]
    assert box.pending(10)[0].boot_id == "old-boot"
    box.close()

    shorter = Outbox(path, bucket_seconds=30)
    assert shorter.seal_stale(boot_id=BOOT) == [2]
    assert shorter.open_buckets() == 0
    shorter.close()


def test_huge_buckets_are_split_into_valid_records(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "MAX_COUNT_PER_RECORD", 3)
    box = Outbox(path, bucket_seconds=60)
    box.add([press("button", 1001.0 + i / 10) for i in range(7)], boot_id=BOOT, clock_synced=True)
    assert box.seal_all() == [1, 2, 3]
    assert [r.count for r in box.pending(10)] == [3, 3, 1]
    box.close()


def test_readonly_outbox_reads_without_writing(path: Path) -> None:
    box = Outbox(path, bucket_seconds=60)
    box.add([press("button", 1001.0)], boot_id=BOOT, clock_synced=True)
    box.seal_all()
    reader = Outbox(path, bucket_seconds=60, readonly=True)
    assert reader.depth() == 1
    assert reader.last_seq() == 1
    with pytest.raises(OutboxError):
        reader.delete([1])
    reader.close()
    box.close()


def test_unopenable_outbox_is_an_outbox_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot open the outbox"):
        Outbox(blocker / "outbox.sqlite3", bucket_seconds=60)


_WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from device.core.events import Interaction
from device.outbox.store import Outbox

box = Outbox(Path(sys.argv[1]), bucket_seconds=0.5)
mono = float(sys.argv[2])
total = 0
while True:
    batch = [Interaction("button", datetime.now(UTC), mono + i * 0.01) for i in range(7)]
    box.add(batch, boot_id="boot-a", clock_synced=True)
    total += len(batch)
    print(total, flush=True)
    mono += 0.1
    box.seal_due(boot_id="boot-a", now_mono=mono)
"""


def _counted(path: Path) -> tuple[int, list[int]]:
    box = Outbox(path, bucket_seconds=0.5)
    try:
        open_total = box._db.execute("SELECT COALESCE(SUM(count), 0) FROM open_buckets")
        records = box.pending(1_000_000)
        total = int(open_total.fetchone()[0]) + sum(r.count for r in records)
        assert box.last_seq() == len(records)
        return total, [r.seq for r in records]
    finally:
        box.close()


@pytest.mark.parametrize("stop_after", [40, 97, 151])
def test_kill_9_at_any_instant_loses_nothing_committed_and_seals_nothing_twice(
    path: Path, stop_after: int
) -> None:
    path.parent.mkdir(parents=True)
    before = 0
    for round_ in range(2):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(1000 + 100 * round_)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        assert child.stdout is not None
        lines = 0
        for _line in child.stdout:
            lines += 1
            if lines >= stop_after:
                break
        os.kill(child.pid, signal.SIGKILL)  # mid-way through whatever it was doing
        child.wait()
        rest = child.stdout.read().split()  # lines printed before death are still in the pipe
        child.stdout.close()
        reported = int(rest[-1]) if rest else 7 * lines

        total, seqs = _counted(path)
        # Each printed total was committed first; at most one more batch may have committed
        # without being printed. More than that would mean a bucket sealed twice.
        assert before + reported <= total <= before + reported + 7
        assert seqs == list(range(1, len(seqs) + 1)), "seqs must be gap-free, each used once"
        assert seqs, "the writer should have sealed some buckets"
        before = total


def test_an_outbox_from_a_newer_agent_is_refused(path: Path) -> None:
    Outbox(path, bucket_seconds=60).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(OutboxError, match="newer than this agent"):
        Outbox(path, bucket_seconds=60)


def test_a_version_1_outbox_is_upgraded_and_what_it_holds_is_frozen(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
            "CREATE TABLE records (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT);"
            "INSERT INTO meta VALUES ('next_seq', 4);"
            "PRAGMA user_version = 1;"
        )
    box = Outbox(path, bucket_seconds=60)
    assert box.published_upto() == 3  # possibly sent by the old agent: never changed now
    assert box.last_seq() == 3
    assert box._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    box.close()


def test_publication_marks_only_move_forward(path: Path) -> None:
    box = Outbox(path, bucket_seconds=60)
    box.mark_published(5)
    box.mark_published(3)
    assert box.published_upto() == 5
    box.set_meta("visit_id", 12)
    box.set_meta("note", {"a": [1, 2]})
    assert (box.meta("visit_id"), box.meta("note"), box.meta("absent", "d")) == (
        12,
        {"a": [1, 2]},
        "d",
    )
    box.close()
