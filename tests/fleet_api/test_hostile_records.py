"""Records no Pi can send, seqs that conflict, and the quarantine's bounds, on both backends.

Each record is judged on its own: an implausible one is set aside with its reason and
the rest of its message is stored; a stored seq arriving with another body is kept in
quarantine as ``conflict`` with both bodies; the quarantine stays within its bounds.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from broker.limits import SEQ_MAX
from fleet_api.alerts import AlertCode, Thresholds
from fleet_api.inbound import Inbound
from fleet_api.plausibility import MONO_MAX_S
from fleet_api.store.conflicts import load_counts
from fleet_api.store.fleet_health import fleet_health
from fleet_api.store.ingest import IngestLimits, write_batch
from fleet_api.store.quarantine_bounds import QuarantineBounds, totals
from fleet_api.store.seq_ranges import load_ranges
from fleet_api.tables import boot_clocks
from fleet_api.tables_ingest import quarantine
from tests.fleet_api.builders import T0, beat, counts, raw, record, status, unsynced
from tests.fleet_api.helpers import quarantined, register, stored_records

EXHIBIT = "exhibit-001"
TOPIC = f"fleet/v1/exhibits/{EXHIBIT}/counts"


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, EXHIBIT, "exhibit-002")
    return engine


def test_an_unsynced_poison_record_does_not_take_later_valid_messages_with_it(
    fleet: Engine,
) -> None:
    """The acceptance case: mono_start 1e12 unsynced, then two valid synced messages of the
    same boot. Before, re-basing the first against their reference overflowed and both
    valid messages were quarantined as storage_rejected."""
    poison = unsynced(1, wall=T0, mono=1e12)
    write_batch(fleet, [counts(EXHIBIT, poison, record(2, minute=1))])
    write_batch(fleet, [counts(EXHIBIT, record(3, minute=2))])
    write_batch(fleet, [counts(EXHIBIT, record(4, minute=3))])
    assert [r[1] for r in stored_records(fleet)] == [2, 3, 4]
    [(reason, topic, _, detail)] = quarantined(fleet)
    assert (reason, topic) == ("out_of_range", TOPIC)
    assert detail.startswith("1 record(s) set aside, 1 stored: seq 1: mono_start 1e+12 s")


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (unsynced(2, wall=T0, mono=MONO_MAX_S + 1), "more than ten years"),
        (
            record(2).model_copy(update={"start": T0.replace(year=9999, month=12, day=31)}),
            "outside 1970",
        ),
        (record(2).model_copy(update={"start": T0.replace(year=1969)}), "outside 1970"),
    ],
    ids=["mono", "far-future", "before-epoch"],
)
def test_an_implausible_record_is_set_aside_and_its_neighbours_stored(
    fleet: Engine, bad: object, why: str
) -> None:
    write_batch(fleet, [counts(EXHIBIT, record(1), bad, record(3, minute=2))])  # type: ignore[arg-type]
    assert [r[1] for r in stored_records(fleet)] == [1, 3]
    [(reason, _, _, detail)] = quarantined(fleet)
    assert reason == "out_of_range"
    assert why in detail
    assert detail.startswith("1 record(s) set aside, 2 stored: seq 2:")


def test_a_heartbeat_with_an_impossible_uptime_is_set_aside_whole(fleet: Engine) -> None:
    write_batch(fleet, [beat(EXHIBIT, uptime_s=1e12), status(EXHIBIT, at=T0.replace(year=2300))])
    assert [r[0] for r in quarantined(fleet)] == ["out_of_range", "out_of_range"]
    with fleet.connect() as connection:
        assert connection.execute(select(boot_clocks)).all() == []  # no reference from it


def test_a_seq_far_past_the_highest_is_set_aside_and_the_gap_does_not_open(
    fleet: Engine,
) -> None:
    limits = IngestLimits(max_seq_jump=1000)
    write_batch(
        fleet, [counts(EXHIBIT, *(record(s, minute=s) for s in range(1, 11)))], limits=limits
    )
    write_batch(fleet, [counts(EXHIBIT, record(10**15), record(11, minute=11))], limits=limits)
    write_batch(fleet, [counts(EXHIBIT, record(1011, minute=12))], limits=limits)  # within 1000
    assert [r[1] for r in stored_records(fleet)][-2:] == [11, 1011]
    [(reason, _, _, detail)] = quarantined(fleet)
    assert reason == "seq_jump"
    assert "FLEET_INGEST_MAX_SEQ_JUMP" in detail
    with fleet.connect() as connection:
        ranges = load_ranges(connection, [EXHIBIT])[EXHIBIT]
    assert ranges[-1].last == 1011  # the missing count stays 999, not 10^15


def test_the_contracts_whole_seq_range_can_be_stored(fleet: Engine) -> None:
    limits = IngestLimits(max_seq_jump=SEQ_MAX)
    write_batch(
        fleet, [counts(EXHIBIT, record(SEQ_MAX - 1), record(SEQ_MAX, minute=1))], limits=limits
    )
    write_batch(fleet, [counts(EXHIBIT, record(SEQ_MAX, minute=1))], limits=limits)  # replayed
    assert [r[1] for r in stored_records(fleet)] == [SEQ_MAX - 1, SEQ_MAX]
    assert quarantined(fleet) == []
    with fleet.connect() as connection:
        ranges = load_ranges(connection, [EXHIBIT])[EXHIBIT]
    assert [(r.first, r.last) for r in ranges] == [(SEQ_MAX - 1, SEQ_MAX)]


def test_a_replay_is_not_a_conflict_but_another_body_is(fleet: Engine) -> None:
    first = counts(EXHIBIT, record(1, count=3), record(2, minute=1))
    write_batch(fleet, [first])
    write_batch(fleet, [first])  # redelivered: nothing to see
    assert quarantined(fleet) == []
    other = counts(EXHIBIT, record(2, minute=1, count=9), record(3, minute=2))
    outcome = write_batch(fleet, [other])
    assert outcome.conflicts == 1
    assert stored_records(fleet) == [(EXHIBIT, 1, 3), (EXHIBIT, 2, 1), (EXHIBIT, 3, 1)]
    with fleet.connect() as connection:
        row = connection.execute(select(quarantine)).one()
        counters = load_counts(connection, [EXHIBIT])[EXHIBIT]
    assert (row.reason, bytes(row.payload)) == ("conflict", other.payload)  # what came
    stored = json.loads(row.stored)  # and what was kept
    assert [(s["seq"], s["count"]) for s in stored] == [(2, 1)]
    assert "reuse stored seqs" in row.detail
    assert (counters.records, counters.restarts) == (1, 0)


def test_seqs_that_start_again_in_another_boot_are_a_restart(fleet: Engine) -> None:
    write_batch(fleet, [counts(EXHIBIT, *(record(s, minute=s) for s in range(1, 6)))])
    reflashed = counts(EXHIBIT, *(record(s, minute=60 + s, boot_id="fresh-card") for s in (1, 2)))
    write_batch(fleet, [reflashed])
    with fleet.connect() as connection:
        counters = load_counts(connection, [EXHIBIT])[EXHIBIT]
    assert (counters.records, counters.restarts, counters.last_seq) == (2, 2, 2)
    [(reason, _, _, detail)] = quarantined(fleet)
    assert reason == "conflict"
    assert "seqs started again" in detail


def test_a_batch_repeating_a_seq_with_another_body_is_a_conflict(fleet: Engine) -> None:
    write_batch(fleet, [counts(EXHIBIT, record(1, count=2)), counts(EXHIBIT, record(1, count=5))])
    assert stored_records(fleet) == [(EXHIBIT, 1, 2)]
    assert [r[0] for r in quarantined(fleet)] == ["conflict"]


def _garbage(n: int, size: int, exhibit: str = EXHIBIT) -> list[Inbound]:
    topic = f"fleet/v1/exhibits/{exhibit}/counts"
    return [
        replace(raw(topic, b"x" * size), received_at=T0 + timedelta(seconds=n * 100 + i))
        for i in range(n)
    ]


def test_the_rate_per_exhibit_drops_and_counts_the_excess(fleet: Engine) -> None:
    limits = IngestLimits(quarantine=QuarantineBounds(per_exhibit_per_hour=5))
    outcome = write_batch(fleet, _garbage(8, 10), limits=limits)
    assert (outcome.quarantined["malformed"], outcome.quarantine_dropped["rate"]) == (5, 3)
    outcome = write_batch(fleet, _garbage(2, 10, "exhibit-002"), limits=limits)
    assert outcome.quarantine_dropped["rate"] == 0  # another exhibit has its own allowance
    later = [replace(m, received_at=T0 + timedelta(hours=2)) for m in _garbage(1, 10)]
    assert write_batch(fleet, later, limits=limits).quarantined["malformed"] == 1
    with fleet.connect() as connection:
        held = totals(connection)
    assert (held.rows, held.dropped_rate) == (8, 3)


def test_the_total_size_evicts_the_biggest_senders_oldest_first(fleet: Engine) -> None:
    limits = IngestLimits(quarantine=QuarantineBounds(max_bytes=50_000))
    write_batch(fleet, _garbage(2, 1000, "exhibit-002"), limits=limits)  # someone else's
    for _ in range(5):
        write_batch(fleet, _garbage(2, 10_000), limits=limits)  # a flood
        with fleet.connect() as connection:
            assert totals(connection).bytes <= 50_000
    with fleet.connect() as connection:
        held = totals(connection)
        kept = connection.execute(select(quarantine.c.exhibit_id, quarantine.c.size)).all()
    assert held.dropped_size > 0
    assert held.bytes == sum(row.size for row in kept)
    assert held.rows == len(kept)
    assert sum(1 for row in kept if row.exhibit_id == "exhibit-002") == 2  # evidence kept


def test_retention_removes_old_rows_when_the_quarantine_is_written(fleet: Engine) -> None:
    limits = IngestLimits(quarantine=QuarantineBounds(retention=timedelta(days=1)))
    write_batch(fleet, _garbage(3, 10), limits=limits)
    later = [replace(m, received_at=T0 + timedelta(days=2)) for m in _garbage(1, 10)]
    write_batch(fleet, later, limits=limits)
    with fleet.connect() as connection:
        held = totals(connection)
    assert (held.rows, held.expired) == (1, 3)
    assert len(quarantined(fleet)) == 1


def test_fleet_health_reports_conflicts_and_restarted_seqs(fleet: Engine) -> None:
    write_batch(fleet, [counts(EXHIBIT, record(1), record(2, minute=1))])
    write_batch(fleet, [counts("exhibit-002", record(1))])
    write_batch(fleet, [counts("exhibit-002", record(1, count=4))])  # same boot, other body
    write_batch(fleet, [counts(EXHIBIT, record(1, minute=30, boot_id="fresh-card"))])
    limits = Thresholds(offline_grace=timedelta(minutes=3), low_disk_bytes=0, outbox_backlog=1000)
    with Session(fleet) as session:
        health = fleet_health(session, thresholds=limits, now=T0)
    found = {item.exhibit_id: item for item in health.exhibits}
    restarted, conflicting = found[EXHIBIT], found["exhibit-002"]
    assert (restarted.conflicts, restarted.seq_restarts) == (1, 1)
    assert (conflicting.conflicts, conflicting.seq_restarts) == (1, 0)
    assert [a.code for a in restarted.alerts if "seq" in a.code] == [AlertCode.SEQS_RESTARTED]
    assert [a.code for a in conflicting.alerts if "seq" in a.code] == [AlertCode.SEQ_CONFLICTS]
