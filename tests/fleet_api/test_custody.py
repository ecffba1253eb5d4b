"""The fleet's custody acknowledgements: what it says it stored, after the commit, per exhibit."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from broker.messages import Custody
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound
from fleet_api.ingest import Ingestor
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import counts, heartbeat, raw, record
from tests.fleet_api.fakes import FakeSource, eventually
from tests.fleet_api.helpers import register, stored_records


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, "exhibit-001", "exhibit-002")
    return engine


def stated(engine: Engine, *messages: Inbound) -> dict[str, tuple[int, list[tuple[int, int]]]]:
    """What write_batch says is stored of each exhibit, once committed."""
    outcome = write_batch(engine, list(messages))
    return {
        exhibit_id: (stored.below, [(r.first, r.last) for r in stored.ranges])
        for exhibit_id, stored in outcome.custody.items()
    }


def test_custody_says_what_is_stored_below_and_above_the_first_gap(fleet: Engine) -> None:
    one = "exhibit-001"
    assert stated(fleet, counts(one, *(record(s) for s in range(1, 6)))) == {one: (6, [])}
    assert stated(fleet, counts(one, record(8), record(9))) == {one: (6, [(8, 9)])}
    # Far above, in another message of the same batch: both runs that meet what was sent.
    assert stated(fleet, counts(one, record(12)), counts(one, record(9), record(10))) == {
        one: (6, [(8, 10), (12, 12)])
    }
    # Only the runs that hold this batch's seqs: 12 was confirmed with its own batch.
    assert stated(fleet, counts(one, record(6), record(7))) == {one: (11, [])}
    # A redelivery stores nothing and is confirmed again: its first confirmation was lost.
    assert stated(fleet, counts(one, record(2))) == {one: (11, [])}


def test_custody_is_only_about_what_was_stored(fleet: Engine) -> None:
    said = stated(
        fleet,
        counts("exhibit-002", record(3)),
        counts("ghost-9", record(1)),  # not registered: quarantined, not stored
        heartbeat("exhibit-001"),
        raw("fleet/v1/exhibits/exhibit-001/counts", b"{broken"),
    )
    assert said == {"exhibit-002": (1, [(3, 3)])}


async def test_each_exhibit_is_told_once_per_batch_after_the_commit(fleet: Engine) -> None:
    told: list[tuple[str, Custody]] = []

    def stored_before_the_ack(message: Inbound) -> None:
        # By the time the broker gets the ack, every exhibit was told what is stored.
        assert source.sent, "acked before any custody acknowledgement"

    source = FakeSource(on_ack=stored_before_the_ack)
    ingestor = Ingestor(engine=fleet, source=source, batch_wait_s=0.2)
    ingestor.start()
    source.push(
        counts("exhibit-001", record(1)),
        counts("exhibit-001", record(2)),
        counts("exhibit-002", record(1), record(2), record(3)),
    )
    await eventually(lambda: len(source.acked) == 3)
    await ingestor.stop()
    for topic, payload in source.sent:
        told.append((topic, Custody.model_validate_json(payload)))
    assert len(told) == 2, "one message per exhibit per batch"
    by_exhibit = {c.exhibit_id: (topic, c.stored_below, c.ranges) for topic, c in told}
    assert by_exhibit == {
        "exhibit-001": (exhibit_topic("exhibit-001", Channel.CUSTODY), 3, []),
        "exhibit-002": (exhibit_topic("exhibit-002", Channel.CUSTODY), 4, []),
    }
    assert ingestor.stats.custody_sent == 2
    assert len(stored_records(fleet)) == 5


async def test_no_custody_when_it_is_switched_off(fleet: Engine) -> None:
    source = FakeSource()
    ingestor = Ingestor(engine=fleet, source=source, custody=False)
    ingestor.start()
    source.push(counts("exhibit-001", record(1)))
    await eventually(lambda: len(source.acked) == 1)
    await ingestor.stop()
    assert source.sent == []
