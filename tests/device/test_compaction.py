"""The outbox size cap: the oldest unpublished buckets are merged, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import CountRecord
from device.core.clock import FakeClock
from device.core.events import Interaction
from device.outbox.compaction import compact
from device.outbox.store import Outbox
from device.runtime.agent import Agent
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink
from tests.device.hands import press

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fill(outbox: Outbox, *, minutes: int, inputs: tuple[str, ...], boot: str = "boot-a") -> None:
    """One sealed bucket per input per minute, as a long day offline leaves them."""
    presses = [
        Interaction(name, T0 + timedelta(minutes=m), 1000.0 + 60 * m + 1)
        for m in range(minutes)
        for name in inputs
        for _ in range(1 + m % 3)
    ]
    outbox.add(presses, boot_id=boot, clock_synced=False, visit_id=7)
    outbox.seal_all()


def totals(records: list[CountRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for record in records:
        out[record.input] = out.get(record.input, 0) + record.count
    return out


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite3", bucket_seconds=60)


def test_the_oldest_unpublished_buckets_merge_and_the_tail_is_renumbered(outbox: Outbox) -> None:
    fill(outbox, minutes=400, inputs=("button", "motion"))  # 800 records
    before = [r for r in outbox.pending(10_000) if isinstance(r, CountRecord)]
    frozen = outbox.pending_bodies(100)
    outbox.mark_published(100)  # the first 100 may have reached the broker

    result = compact(outbox, max_records=400)
    assert result is not None
    assert result.after <= 300  # down to 75 % of the cap, so it is not redone at every seal
    after = outbox.pending(10_000)
    assert outbox.pending_bodies(100) == frozen  # possibly delivered: same seq, same bytes
    assert [r.seq for r in after] == list(range(1, len(after) + 1))  # still gap-free
    assert outbox.last_seq() == len(after)
    counts = [r for r in after if isinstance(r, CountRecord)]
    assert totals(counts) == totals(before)  # nothing dropped
    assert {(r.visit_id, r.boot_id, r.clock_synced) for r in counts} == {(7, "boot-a", False)}
    merged = [r for r in counts[100:] if r.seconds > 60]
    assert merged, "the oldest unpublished buckets were merged"
    assert max(r.seconds for r in counts) <= 86_400
    assert counts[-1].seconds == 60  # the newest are untouched
    outbox.close()


def test_nothing_is_merged_across_inputs_visits_or_boots(outbox: Outbox) -> None:
    fill(outbox, minutes=60, inputs=("a", "b"), boot="boot-1")
    fill(outbox, minutes=60, inputs=("a", "b"), boot="boot-2")
    compact(outbox, max_records=100)
    keys = [(r.input, r.boot_id) for r in outbox.pending(1000) if isinstance(r, CountRecord)]
    assert sorted(set(keys)) == [("a", "boot-1"), ("a", "boot-2"), ("b", "boot-1"), ("b", "boot-2")]
    outbox.close()


def test_a_full_outbox_with_nothing_unpublished_keeps_everything(outbox: Outbox) -> None:
    fill(outbox, minutes=150, inputs=("a",))
    outbox.mark_published(outbox.last_seq())
    assert compact(outbox, max_records=100) is None
    assert outbox.depth() == 150
    outbox.close()


def test_the_agent_keeps_its_outbox_under_the_cap_while_offline(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(outbox_max_records=100, bucket_seconds=1, session_idle_s=3600)
    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        for _ in range(300):  # 300 one-second buckets, nobody to send them to
            press(factory, clock, gap=0.9)
            assert agent.wait_recorded(5)
        assert agent.wait_recorded(5)
        assert agent.outbox_depth() <= 100
        link.connect()
        assert agent.flush(10)
    assert link.counted() == {"button": 300}
    seqs = sorted({r.seq for r in link.records()})
    assert seqs == list(range(1, len(seqs) + 1))
