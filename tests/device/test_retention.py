"""Retention on the Pi: what the fleet confirmed is kept, by the fleet's clock, within a budget."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from device.core.events import Interaction
from device.outbox.retention import Retention, coverage, merge_spans, spans_of
from device.outbox.store import Outbox

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = 86_400.0


def outbox_with(path: Path, records: int, *, published: int | None = None) -> Outbox:
    """An outbox holding ``records`` sealed one-press records, the first ``published`` sent."""
    box = Outbox(path, bucket_seconds=60)
    box.add(
        [Interaction("button", T0 + timedelta(minutes=i), 60.0 * i + 1) for i in range(records)],
        boot_id="boot-1",
        clock_synced=True,
    )
    box.seal_all()
    box.mark_published(records if published is None else published)
    return box


def pending(box: Outbox) -> list[int]:
    return [row[0] for row in box.db.execute("SELECT seq FROM records ORDER BY seq")]


def kept(box: Outbox) -> list[int]:
    return [row[0] for row in box.db.execute("SELECT seq FROM retained ORDER BY seq")]


def test_coverage_is_clipped_to_what_was_handed_over() -> None:
    assert coverage(1, [], upto=10) == []
    assert coverage(5, [(7, 9), (12, 40)], upto=10) == [(1, 4), (7, 9)]
    assert coverage(5, [(6, 9)], upto=100) == [(1, 4), (6, 9)]  # 5 itself is missing
    assert coverage(50, [], upto=3) == [(1, 3)]
    assert coverage(2, [(4, 5)], upto=0) == []
    assert spans_of([5, 1, 2, 3, 9, 10]) == [(1, 3), (5, 5), (9, 10)]
    assert merge_spans([(5, 7), (1, 2), (3, 4), (9, 9)]) == [(1, 7), (9, 9)]


def test_confirmed_records_are_kept_with_the_fleets_time_and_dropped_after_their_days(
    tmp_path: Path,
) -> None:
    box = outbox_with(tmp_path / "o.sqlite3", 6)
    retention = Retention(box, days=30, max_bytes=10**9)
    t = T0.timestamp()
    assert retention.confirm([(1, 2)], at=t) == [1, 2]
    assert retention.confirm([(1, 4)], at=t + 20 * DAY) == [3, 4]  # 1-2 already moved
    assert (pending(box), kept(box), retention.held) == ([5, 6], [1, 2, 3, 4], 4)
    assert retention.prune() == 0  # the fleet's clock says 20 days: nothing is old enough
    retention.confirm([(5, 5)], at=t + 35 * DAY)
    assert retention.prune() == 2  # 1-2 were confirmed 35 days ago by the fleet's clock
    assert (kept(box), retention.held, retention.oldest()) == ([3, 4, 5], 3, 3)
    box.close()
    reopened = Outbox(tmp_path / "o.sqlite3", bucket_seconds=60)
    again = Retention(reopened, days=30, max_bytes=10**9)
    assert (again.held, again.fleet_time) == (3, t + 35 * DAY)  # both survive a reboot
    reopened.close()


def test_the_disk_budget_drops_the_oldest_confirmed_records_and_never_a_pending_one(
    tmp_path: Path,
) -> None:
    box = outbox_with(tmp_path / "o.sqlite3", 6000)
    retention = Retention(box, days=3650, max_bytes=10**9)
    retention.confirm([(1, 5000)], at=T0.timestamp())
    full = retention.live_bytes()
    retention.max_bytes = full // 2
    dropped = retention.prune()
    assert dropped > 0
    assert retention.live_bytes() <= full // 2
    assert pending(box) == list(range(5001, 6001))
    left = kept(box)
    assert left == list(range(dropped + 1, 5001)), "the oldest went first"
    retention.max_bytes = 1  # even nothing retained is too much: pending records stay
    retention.prune()
    assert (kept(box), len(pending(box)), retention.held) == ([], 1000, 0)
    box.close()


def test_requeue_makes_confirmed_records_pending_again(tmp_path: Path) -> None:
    box = outbox_with(tmp_path / "o.sqlite3", 5)
    retention = Retention(box, days=30, max_bytes=10**9)
    retention.confirm([(1, 5)], at=T0.timestamp())
    bodies = dict(box.db.execute("SELECT seq, body FROM retained"))
    assert retention.requeue(3) == 3
    assert (pending(box), kept(box), retention.held) == ([3, 4, 5], [1, 2], 2)
    assert dict(box.pending_bodies(10)) == {seq: bodies[seq] for seq in (3, 4, 5)}  # same bytes
    assert retention.requeue(10) == 0
    box.close()


def test_with_no_retention_confirmed_records_are_simply_gone(tmp_path: Path) -> None:
    box = outbox_with(tmp_path / "o.sqlite3", 3)
    retention = Retention(box, days=0, max_bytes=10**9)
    assert retention.confirm([(1, 3)], at=T0.timestamp()) == [1, 2, 3]
    assert (pending(box), kept(box), retention.held, retention.oldest()) == ([], [], 0, None)
    box.close()


statements = st.lists(
    st.tuples(
        st.integers(1, 60),  # stored_below
        st.lists(st.tuples(st.integers(1, 60), st.integers(0, 5)), max_size=4),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(records=st.integers(1, 50), published=st.integers(0, 50), said=statements)
def test_custody_in_any_order_leaves_exactly_the_uncovered_records_pending(
    records: int, published: int, said: list[tuple[int, list[tuple[int, int]]]]
) -> None:
    """Whatever the fleet says, in whatever order: a record leaves iff some statement covers
    it and it was handed to the broker; nothing is ever lost or duplicated."""
    published = min(published, records)
    with tempfile.TemporaryDirectory() as scratch:
        box = outbox_with(Path(scratch) / "o.sqlite3", records, published=published)
        retention = Retention(box, days=30, max_bytes=10**9)
        covered: set[int] = set()
        for below, raw in said:
            ranges = merge_spans((first, first + width) for first, width in raw if first > below)
            ranges = [r for r in ranges if r[0] > below]
            spans = coverage(below, ranges, upto=box.published_upto())
            retention.confirm(spans, at=T0.timestamp())
            covered |= {seq for first, last in spans for seq in range(first, last + 1)}
        assert set(kept(box)) == covered
        assert all(seq <= published for seq in covered)
        assert sorted(pending(box) + kept(box)) == list(range(1, records + 1))
        box.close()
