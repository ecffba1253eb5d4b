"""Attribution of stored records to visits: by tag first, else by exhibit and time window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fleet_api.errors import UnknownVisit
from fleet_api.models.usage import VisitUsage
from fleet_api.store.ingest import write_batch
from fleet_api.store.usage import visit_usage
from tests.fleet_api.builders import T0, counts, record, unsynced
from tests.fleet_api.helpers import record_count, register, schedule


def usage(engine: Engine, visit_id: int) -> VisitUsage:
    with Session(engine) as session:
        return visit_usage(session, visit_id=visit_id)


def totals(result: VisitUsage) -> dict[str, dict[str, int]]:
    return {e.exhibit_id: {i.input: i.count for i in e.inputs} for e in result.exhibits}


VERIFY_FIELDS = {
    "visit_id": True,
    "starts_at": True,
    "ends_at": True,
    "total": True,
    "exhibits": {"__all__": {"exhibit_id", "total", "inputs"}},
}
"""The fields of the first release, which ``exhibit-sim verify`` reads: never renamed."""


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, "exhibit-001", "exhibit-002", "exhibit-003")
    return engine


def test_untagged_records_count_in_the_visit_whose_window_and_exhibits_contain_them(
    fleet: Engine,
) -> None:
    morning = schedule(fleet, "exhibit-001", "exhibit-002", start_h=0, hours=2)
    afternoon = schedule(fleet, "exhibit-001", start_h=4, hours=2)
    write_batch(
        fleet,
        [
            counts(
                "exhibit-001",
                record(1, input="button", count=20, minute=0),  # the first instant is in
                record(2, input="motion", count=10, minute=30),
                record(3, input="button", count=7, minute=120),  # ends_at itself is out
                record(4, input="button", count=5, minute=250),  # afternoon
            ),
            counts("exhibit-003", record(1, count=100, minute=10)),  # not taken on any visit
        ],
    )
    result = usage(fleet, morning)
    assert result.model_dump(mode="json", include=VERIFY_FIELDS) == {
        "visit_id": morning,
        "starts_at": "2026-05-04T08:00:00Z",
        "ends_at": "2026-05-04T10:00:00Z",
        "total": 30,
        "exhibits": [
            {
                "exhibit_id": "exhibit-001",
                "total": 30,
                "inputs": [{"input": "button", "count": 20}, {"input": "motion", "count": 10}],
            },
            {"exhibit_id": "exhibit-002", "total": 0, "inputs": []},
        ],
    }
    assert totals(usage(fleet, afternoon)) == {"exhibit-001": {"button": 5}}
    # Records outside every visit are kept, only not attributed.
    assert record_count(fleet) == 5


def test_a_tag_wins_over_an_unsynced_time_window(fleet: Engine) -> None:
    first = schedule(fleet, "exhibit-001", start_h=0)
    second = schedule(fleet, "exhibit-001", start_h=24)
    # The Pi's unsynced clock says the first visit's morning, but it was tagged with the
    # second visit (its clock restarted from an old saved time after a power cut).
    behind = unsynced(1, wall=T0 + timedelta(minutes=15), mono=900.0, count=9, visit_id=second)
    write_batch(fleet, [counts("exhibit-001", behind)])
    assert usage(fleet, first).total == 0
    assert totals(usage(fleet, second)) == {"exhibit-001": {"button": 9}}


def test_a_stale_tag_gives_way_to_a_synced_time(fleet: Engine) -> None:
    # Checked out to the second visit and never checked in: a synced count a day later
    # at the depot is not the visit's, nor is one during another visit.
    first = schedule(fleet, "exhibit-001", start_h=0)
    second = schedule(fleet, "exhibit-001", start_h=24)
    write_batch(
        fleet,
        [
            counts(
                "exhibit-001",
                record(1, count=3, minute=15, visit_id=second),  # during the first visit
                record(2, count=5, minute=60 * 50, visit_id=second),  # the day after
            )
        ],
    )
    assert totals(usage(fleet, first)) == {"exhibit-001": {"button": 3}}
    assert usage(fleet, second).total == 0
    assert record_count(fleet) == 2


def test_a_tag_naming_a_visit_without_the_exhibit_falls_back_to_the_time_window(
    fleet: Engine,
) -> None:
    # A count in the wrong visit is worse than none: the tag is trusted only when the
    # visit took the exhibit. Here the time is outside every visit: unassigned, kept.
    visit = schedule(fleet, "exhibit-001")
    write_batch(fleet, [counts("exhibit-003", record(1, count=4, minute=-600, visit_id=visit))])
    result = usage(fleet, visit)
    assert totals(result) == {"exhibit-001": {}}
    assert result.total == 0
    assert record_count(fleet) == 1


def test_a_tag_naming_no_visit_falls_back_to_the_time_window(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001")
    write_batch(fleet, [counts("exhibit-001", record(1, count=2, minute=5, visit_id=9999))])
    assert usage(fleet, visit).total == 2


def test_a_replayed_batch_leaves_usage_unchanged(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", "exhibit-002")
    batch = [
        counts("exhibit-001", record(1, count=3, minute=1), record(2, input="dial", count=2)),
        counts("exhibit-002", record(1, count=5, minute=3, visit_id=visit)),
    ]
    write_batch(fleet, batch)
    before = usage(fleet, visit)
    write_batch(fleet, batch)
    assert usage(fleet, visit) == before
    assert before.total == 10


def test_usage_of_a_missing_visit_names_it(fleet: Engine) -> None:
    with pytest.raises(UnknownVisit, match="visit 42 does not exist"):
        usage(fleet, 42)
