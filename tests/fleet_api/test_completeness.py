"""Which seqs arrived, what is missing, and whether a visit's numbers are final."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from fleet_api.completeness import (
    DataStatus,
    SeqRange,
    gaps,
    gaps_near,
    islands,
    merge,
    missing_count,
    singles,
    visit_data_status,
)
from fleet_api.store.ingest import write_batch
from fleet_api.store.seq_ranges import load_ranges
from fleet_api.tables import exhibit_seq_ranges
from tests.fleet_api.builders import T0, beat, counts, mixed, record, session
from tests.fleet_api.checks import usage
from tests.fleet_api.helpers import register, schedule

R = SeqRange


def test_islands_merge_overlapping_and_adjacent_ranges() -> None:
    assert islands([R(5, 6), R(1, 2), R(3, 3), R(7, 9), R(9, 12), R(20, 20)]) == [
        R(1, 3),
        R(5, 12),
        R(20, 20),
    ]
    assert singles([7, 3, 4, 4, 9, 8]) == [R(3, 4), R(7, 9)]
    with pytest.raises(ValueError, match="not a seq range"):
        R(0, 3)


def test_merge_says_which_stored_rows_change() -> None:
    existing = [R(1, 3), R(6, 7), R(10, 10)]
    change = merge(existing, [R(4, 5), R(12, 12)])
    assert change.delete == [R(1, 3), R(6, 7)]
    assert change.insert == [R(1, 7), R(12, 12)]
    assert merge(existing, [R(2, 2)]).delete == []  # a replay changes nothing
    assert merge(existing, [R(2, 2)]).insert == []


def test_a_future_compacted_record_is_just_a_wider_range() -> None:
    # An agent may one day send one record covering seq..last_seq.
    assert merge([R(1, 10)], [R(11, 500)]).insert == [R(1, 500)]


def test_gaps_are_the_missing_seqs_below_the_highest() -> None:
    ranges = [R(3, 5), R(8, 8), R(9, 12)]
    assert gaps(ranges) == [R(1, 2), R(6, 7)]
    assert missing_count(ranges) == 4
    assert gaps([]) == []
    assert gaps_near(gaps([R(1, 10), R(20, 30), R(40, 50), R(60, 70)]), 20, 50) == [
        R(11, 19),
        R(31, 39),
        R(51, 59),
    ]


def test_random_arrival_orders_always_end_in_one_range() -> None:
    rng = random.Random(7)
    for _ in range(50):
        seqs = list(range(1, 200))
        rng.shuffle(seqs)
        stored: list[SeqRange] = []
        for chunk in (seqs[i : i + 13] for i in range(0, len(seqs), 13)):
            change = merge(stored, singles(chunk))
            stored = sorted((set(stored) - set(change.delete)) | set(change.insert))
            assert stored == islands(stored)
        assert stored == [R(1, 199)]


@pytest.mark.parametrize(
    ("ended", "gap", "later", "drained", "status"),
    [
        (False, True, True, True, DataStatus.IN_PROGRESS),
        (True, True, True, True, DataStatus.INCOMPLETE),
        (True, False, False, False, DataStatus.PENDING),
        (True, False, True, False, DataStatus.FINAL),
        (True, False, False, True, DataStatus.FINAL),
    ],
)
def test_the_data_status_of_a_visit(
    ended: bool, gap: bool, later: bool, drained: bool, status: DataStatus
) -> None:
    relevant = [R(4, 4)] if gap else []
    assert (
        visit_data_status(ended=ended, relevant_gaps=relevant, later_record=later, drained=drained)
        is status
    )


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, "exhibit-001", "exhibit-002")
    return engine


def stored_ranges(engine: Engine) -> list[tuple[str, int, int]]:
    with engine.connect() as connection:
        return [
            (r.exhibit_id, r.first_seq, r.last_seq)
            for r in connection.execute(
                select(exhibit_seq_ranges).order_by(
                    exhibit_seq_ranges.c.exhibit_id, exhibit_seq_ranges.c.first_seq
                )
            )
        ]


def test_counts_and_sessions_share_one_seq_stream(fleet: Engine) -> None:
    write_batch(fleet, [mixed("exhibit-001", record(1), session(2), record(4), record(7))])
    write_batch(
        fleet, [mixed("exhibit-001", session(3), record(4)), counts("exhibit-002", record(2))]
    )
    assert stored_ranges(fleet) == [
        ("exhibit-001", 1, 4),
        ("exhibit-001", 7, 7),
        ("exhibit-002", 2, 2),
    ]
    with fleet.connect() as connection:
        ranges = load_ranges(connection, ["exhibit-001", "exhibit-002", "exhibit-404"])
    assert gaps(ranges["exhibit-001"]) == [R(5, 6)]
    assert gaps(ranges["exhibit-002"]) == [R(1, 1)]
    assert ranges["exhibit-404"] == []


def test_a_visits_data_is_incomplete_pending_then_final(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", "exhibit-002", start_h=0, hours=2)
    after = T0 + timedelta(hours=3)
    # exhibit-001: seqs 1, 2, 4 in the visit, 3 still on the Pi.
    write_batch(
        fleet, [counts("exhibit-001", record(1), record(2, minute=10), record(4, minute=30))]
    )

    during = usage(fleet, visit, now=T0 + timedelta(hours=1))
    assert during.data_status is DataStatus.IN_PROGRESS

    result = usage(fleet, visit, now=after)
    first = {e.exhibit_id: e.completeness for e in result.exhibits}
    assert first["exhibit-001"] is not None
    assert first["exhibit-001"].status is DataStatus.INCOMPLETE
    assert (first["exhibit-001"].missing_records, first["exhibit-001"].max_seq) == (1, 4)
    assert "seq 3" in first["exhibit-001"].detail
    # exhibit-002 sent nothing: nothing is known to be missing, nothing shows it is done.
    assert first["exhibit-002"] is not None
    assert first["exhibit-002"].status is DataStatus.PENDING
    assert result.data_status is DataStatus.INCOMPLETE

    # Seq 3 arrives, then a record made after the visit: everything before it was sent.
    write_batch(fleet, [counts("exhibit-001", record(3, minute=20), record(5, minute=200))])
    # exhibit-002 reports an empty outbox after the visit ended.
    write_batch(
        fleet, [beat("exhibit-002", outbox_depth=0, received_at=T0 + timedelta(hours=2, minutes=5))]
    )
    result = usage(fleet, visit, now=after)
    statuses = {e.exhibit_id: e.completeness.status for e in result.exhibits if e.completeness}
    assert statuses == {"exhibit-001": DataStatus.FINAL, "exhibit-002": DataStatus.FINAL}
    assert result.data_status is DataStatus.FINAL


def test_a_heartbeat_with_a_backlog_does_not_make_data_final(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", start_h=0, hours=2)
    write_batch(fleet, [counts("exhibit-001", record(1, minute=5))])
    write_batch(fleet, [beat("exhibit-001", outbox_depth=12, received_at=T0 + timedelta(hours=2))])
    result = usage(fleet, visit, now=T0 + timedelta(hours=4))
    completeness = result.exhibits[0].completeness
    assert completeness is not None
    assert (completeness.status, completeness.outbox_depth) == (DataStatus.PENDING, 12)


def test_old_gaps_do_not_make_a_later_visit_incomplete(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", start_h=24, hours=2)
    # Seqs 2-3 were lost long before the visit; the visit has seqs 10-11.
    write_batch(
        fleet,
        [
            counts("exhibit-001", record(1, minute=-600), record(4, minute=-500)),
            counts("exhibit-001", *(record(s, minute=-400) for s in range(5, 10))),
            counts("exhibit-001", record(10, minute=24 * 60 + 5), record(11, minute=24 * 60 + 9)),
            counts("exhibit-001", record(12, minute=27 * 60)),
        ],
    )
    completeness = usage(fleet, visit, now=T0 + timedelta(days=2)).exhibits[0].completeness
    assert completeness is not None
    assert (completeness.status, completeness.missing_records) == (DataStatus.FINAL, 0)
