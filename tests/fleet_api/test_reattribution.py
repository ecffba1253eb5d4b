"""Attribution in the database: at ingest, and again when a late fact changes the answer
(a boot's first synced reference, a visit scheduled or changed), rollups following."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from broker.messages import CountRecord
from fleet_api.models.visits import VisitUpdate
from fleet_api.store.ingest import write_batch
from fleet_api.store.visit_changes import update_visit
from tests.fleet_api.builders import T0, beat, counts, mixed, record, session, unsynced
from tests.fleet_api.checks import (
    assert_rollups_match_records,
    placements,
    totals,
    usage,
    visits_of,
)
from tests.fleet_api.helpers import register, schedule
from tests.fleet_api.tokens import TEST_ACTOR

DAY = timedelta(days=1)


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, "exhibit-001", "exhibit-002")
    return engine


def a_day_behind(
    seq: int, minute: float, *, count: int = 1, visit_id: int | None = None
) -> CountRecord:
    """A bucket ``minute`` minutes after T0 on a clock restored to yesterday, boot 'boot-b',
    which booted at T0 (monotonic 0)."""
    return unsynced(
        seq,
        wall=T0 - DAY + timedelta(minutes=minute),
        mono=60.0 * minute,
        boot_id="boot-b",
        count=count,
        visit_id=visit_id,
    )


def test_a_late_synced_heartbeat_moves_a_boots_records_into_their_visit(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", start_h=0, hours=2)
    records = counts("exhibit-001", a_day_behind(1, 10, count=4), a_day_behind(2, 70, count=6))
    write_batch(fleet, [records])
    # By its own clock the exhibit counted yesterday: no visit, kept, flagged.
    assert placements(fleet)[("exhibit-001", 1)] == (
        None,
        "unsynced",
        T0 - DAY + timedelta(minutes=10),
    )
    assert usage(fleet, visit).total == 0
    assert_rollups_match_records(fleet)

    # Hours later in the same boot NTP synced; its heartbeat says the true time.
    write_batch(
        fleet,
        [beat("exhibit-001", boot_id="boot-b", at=T0 + timedelta(hours=3), uptime_s=3 * 3600.0)],
    )

    assert placements(fleet) == {
        ("exhibit-001", 1): (visit, "rebased", T0 + timedelta(minutes=10)),
        ("exhibit-001", 2): (visit, "rebased", T0 + timedelta(minutes=70)),
    }
    result = usage(fleet, visit)
    assert totals(result) == {"exhibit-001": {"button": 10}}
    assert [(h.hour, h.count) for h in result.timeline] == [(T0, 4), (T0 + timedelta(hours=1), 6)]
    assert_rollups_match_records(fleet)

    # Replays and later references change nothing: the first reference of a boot stays.
    write_batch(fleet, [records])
    write_batch(fleet, [beat("exhibit-001", boot_id="boot-b", at=T0 + DAY, uptime_s=100.0)])
    assert usage(fleet, visit).total == 10
    assert placements(fleet)[("exhibit-001", 1)][2] == T0 + timedelta(minutes=10)
    assert_rollups_match_records(fleet)


def test_a_synced_record_in_the_same_batch_rebases_the_others(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", start_h=1, hours=2)
    synced_later = record(3, minute=150, boot_id="boot-b")  # T0 + 150 min at mono 9000 s
    write_batch(
        fleet,
        [counts("exhibit-001", a_day_behind(1, 65, count=2), a_day_behind(2, 119), synced_later)],
    )
    assert visits_of(fleet) == {
        ("exhibit-001", 1): visit,
        ("exhibit-001", 2): visit,
        ("exhibit-001", 3): visit,
    }
    assert usage(fleet, visit).total == 4
    assert_rollups_match_records(fleet)


def test_a_reference_of_another_boot_or_exhibit_changes_nothing(fleet: Engine) -> None:
    schedule(fleet, "exhibit-001", "exhibit-002", start_h=0, hours=2)
    write_batch(fleet, [counts("exhibit-001", a_day_behind(1, 10))])
    write_batch(
        fleet,
        [
            beat("exhibit-001", boot_id="boot-other", at=T0, uptime_s=0.0),
            beat("exhibit-002", boot_id="boot-b", at=T0, uptime_s=0.0),
            beat("exhibit-001", boot_id="boot-b", at=T0, uptime_s=0.0, synced=False),
        ],
    )
    assert placements(fleet)[("exhibit-001", 1)][:2] == (None, "unsynced")


def test_a_tag_its_bounds_contradict_places_nothing_until_its_time_is_known(fleet: Engine) -> None:
    first = schedule(fleet, "exhibit-001", start_h=0)
    second = schedule(fleet, "exhibit-001", start_h=24)
    write_batch(
        fleet,
        [
            counts(
                "exhibit-001",
                a_day_behind(1, 10, visit_id=second),
                record(2, minute=5, visit_id=second),  # synced, a day before: a stale tag
            )
        ],
    )
    # Seq 1 was sealed before seq 2 (synced, in the first visit): it cannot be tomorrow's,
    # whatever its tag says; it may be the first visit's or before it: unplaced.
    assert visits_of(fleet) == {("exhibit-001", 1): None, ("exhibit-001", 2): first}
    # A reference arriving later re-bases the time into the first visit, far outside
    # the tagged one: the trustworthy time now decides, and the counts move with it.
    write_batch(fleet, [beat("exhibit-001", boot_id="boot-b", at=T0, uptime_s=0.0)])
    assert placements(fleet)[("exhibit-001", 1)] == (first, "rebased", T0 + timedelta(minutes=10))
    assert usage(fleet, second).total == 0
    assert_rollups_match_records(fleet)


def test_a_visit_scheduled_after_its_data_arrived_collects_it(fleet: Engine) -> None:
    other = schedule(fleet, "exhibit-002", start_h=30)
    write_batch(
        fleet,
        [
            counts(
                "exhibit-001",
                record(1, minute=-1, count=1),  # before the window
                record(2, minute=0, count=2),
                record(3, minute=119, count=3),
                record(4, minute=120, count=4),  # ends_at: out
            ),
            counts("exhibit-002", a_day_behind(1, 30, count=5, visit_id=other)),
        ],
    )
    assert set(visits_of(fleet).values()) == {None, other}

    late = schedule(fleet, "exhibit-001", "exhibit-002", start_h=0, hours=2)

    assert visits_of(fleet) == {
        ("exhibit-001", 1): None,
        ("exhibit-001", 2): late,
        ("exhibit-001", 3): late,
        ("exhibit-001", 4): None,
        ("exhibit-002", 1): other,  # its tag still wins
    }
    assert totals(usage(fleet, late)) == {"exhibit-001": {"button": 5}, "exhibit-002": {}}
    assert_rollups_match_records(fleet)


def test_changing_a_visit_moves_records_in_and_out(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", "exhibit-002", start_h=0, hours=2)
    write_batch(
        fleet,
        [
            counts("exhibit-001", record(1, minute=30, count=1), record(2, minute=150, count=2)),
            counts("exhibit-002", record(1, minute=30, count=4)),
        ],
    )
    assert usage(fleet, visit).total == 5

    def change(**fields: object) -> None:
        with Session(fleet) as db:
            update_visit(
                db, visit_id=visit, change=VisitUpdate.model_validate(fields), actor=TEST_ACTOR
            )

    change(ends_at=(T0 + timedelta(hours=3)).isoformat())  # now holds minute 150 too
    assert usage(fleet, visit).total == 7
    change(exhibit_ids=["exhibit-001"])  # exhibit-002 was not taken after all
    assert visits_of(fleet)[("exhibit-002", 1)] is None
    assert totals(usage(fleet, visit)) == {"exhibit-001": {"button": 3}}
    change(starts_at=(T0 + timedelta(hours=1)).isoformat(), pupils=24)
    result = usage(fleet, visit)
    assert (result.total, result.pupils, result.interactions_per_pupil) == (2, 24, round(2 / 24, 3))
    assert_rollups_match_records(fleet)


def test_sessions_are_placed_and_rebased_like_counts(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", start_h=0, hours=2)
    write_batch(
        fleet,
        [
            mixed(
                "exhibit-001",
                session(1, minute=5, dwell_s=40, interactions=6),
                session(2, synced=False, wall=T0 - DAY, mono=1200.0, boot_id="boot-b", dwell_s=10),
            )
        ],
    )
    assert visits_of(fleet, sessions=True) == {("exhibit-001", 1): visit, ("exhibit-001", 2): None}
    write_batch(fleet, [beat("exhibit-001", boot_id="boot-b", at=T0, uptime_s=0.0)])
    assert placements(fleet, sessions=True)[("exhibit-001", 2)] == (
        visit,
        "rebased",
        T0 + timedelta(minutes=20),
    )
    result = usage(fleet, visit)
    assert (result.sessions, result.median_dwell_s) == (2, 25.0)
    assert_rollups_match_records(fleet)
