"""The hourly rollups always equal the records: replays, late references, visits scheduled
and changed afterwards, and concurrent writers never make them drift."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from broker.messages import CountRecord, SessionRecord
from fleet_api.completeness import SeqRange
from fleet_api.inbound import Inbound
from fleet_api.models.visits import VisitUpdate
from fleet_api.store.ingest import write_batch
from fleet_api.store.seq_ranges import load_ranges
from fleet_api.store.visit_changes import update_visit
from fleet_api.tables import UNASSIGNED, count_records, usage_hourly
from tests.fleet_api.builders import T0, beat, counts, mixed, record, session, unsynced
from tests.fleet_api.checks import assert_rollups_match_records, usage, visits_of
from tests.fleet_api.helpers import register, schedule
from tests.fleet_api.tokens import TEST_ACTOR

EXHIBITS = ("exhibit-001", "exhibit-002")


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, *EXHIBITS)
    return engine


def test_a_replay_adds_nothing_and_the_first_copy_of_a_seq_wins(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001")
    batch = [counts("exhibit-001", record(1, count=3), record(2, count=4, input="dial"))]
    write_batch(fleet, batch)
    write_batch(fleet, batch)
    write_batch(fleet, [counts("exhibit-001", record(1, count=99), record(1, count=98))])
    assert usage(fleet, visit).total == 7
    with fleet.connect() as connection:
        cells = connection.execute(select(func.sum(usage_hourly.c.count))).scalar_one()
    assert cells == 7
    assert_rollups_match_records(fleet)


def test_records_of_no_visit_are_rolled_up_as_unassigned(fleet: Engine) -> None:
    write_batch(fleet, [counts("exhibit-002", record(1, count=5, minute=-3000))])
    with fleet.connect() as connection:
        [cell] = connection.execute(select(usage_hourly)).mappings().all()
    assert (cell["visit_id"], cell["count"], cell["records"]) == (UNASSIGNED, 5, 1)
    assert cell["hour"] == T0 - timedelta(hours=50)


def random_record(rng: random.Random, seq: int, visits: list[int]) -> CountRecord | SessionRecord:
    minute = rng.uniform(-120, 600)
    boot = rng.choice(["boot-a", "boot-b", "boot-c"])
    tag = rng.choice([None, None, None, 999, *visits])
    if rng.random() < 0.4:  # an unsynced clock, wrong by up to two days
        wall = T0 + timedelta(minutes=minute) + timedelta(hours=rng.uniform(-48, 48))
        if rng.random() < 0.3:
            return session(
                seq, synced=False, wall=wall, mono=60.0 * abs(minute), boot_id=boot, visit_id=tag
            )
        return unsynced(
            seq,
            wall=wall,
            mono=60.0 * abs(minute),
            boot_id=boot,
            count=rng.randint(0, 9),
            input=rng.choice(["button", "motion"]),
            visit_id=tag,
        )
    if rng.random() < 0.3:
        return session(seq, minute=minute, dwell_s=rng.uniform(0, 300), boot_id=boot, visit_id=tag)
    return record(
        seq,
        minute=minute,
        count=rng.randint(0, 9),
        input=rng.choice(["button", "motion", "crank"]),
        boot_id=boot,
        visit_id=tag,
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_the_records_after_any_mix_of_events(fleet: Engine, seed: int) -> None:
    rng = random.Random(seed)
    visits = [schedule(fleet, "exhibit-001", start_h=0, hours=3)]
    sent: list[Inbound] = []
    seqs = dict.fromkeys(EXHIBITS, 0)
    for step in range(14):
        action = rng.random()
        if action < 0.5:
            exhibit_id = rng.choice(EXHIBITS)
            records = []
            for _ in range(rng.randint(1, 12)):
                seqs[exhibit_id] += rng.choice([1, 1, 1, 2])  # some seqs get lost
                records.append(random_record(rng, seqs[exhibit_id], visits))
            message = mixed(exhibit_id, *records)
            sent.append(message)
            write_batch(fleet, [message])
        elif action < 0.65 and sent:
            write_batch(fleet, rng.sample(sent, min(3, len(sent))))  # redeliveries
        elif action < 0.8:
            exhibit_id = rng.choice(EXHIBITS)
            boot = rng.choice(["boot-a", "boot-b", "boot-c"])
            at = T0 + timedelta(minutes=rng.uniform(0, 600))
            write_batch(
                fleet, [beat(exhibit_id, boot_id=boot, at=at, uptime_s=rng.uniform(0, 9e4))]
            )
        elif action < 0.9:
            start_h = 4 * step + 4
            visits.append(
                schedule(fleet, *rng.sample(EXHIBITS, rng.randint(1, 2)), start_h=start_h)
            )
        else:
            change = VisitUpdate(
                starts_at=T0 + timedelta(hours=rng.uniform(-3, 1)),
                exhibit_ids=list(rng.sample(EXHIBITS, rng.randint(1, 2))),
            )
            with Session(fleet) as db:
                update_visit(db, visit_id=visits[0], change=change, actor=TEST_ACTOR)
        assert_rollups_match_records(fleet)
    attributed = [v for v in visits_of(fleet).values() if v is not None]
    assert attributed, "the random mix should put some records in visits"
    with fleet.connect() as connection:
        by_visit = dict(
            connection.execute(
                select(count_records.c.attributed_visit_id, func.sum(count_records.c.count))
                .where(count_records.c.attributed_visit_id.is_not(None))
                .group_by(count_records.c.attributed_visit_id)
            ).all()
        )
    for visit_id in visits:
        assert usage(fleet, visit_id).total == by_visit.get(visit_id, 0)


def test_concurrent_writers_of_one_exhibit_keep_rollups_and_ranges_exact(fleet: Engine) -> None:
    visit = schedule(fleet, "exhibit-001", "exhibit-002", start_h=0, hours=10)
    batches = [
        counts(exhibit_id, *(record(s, minute=s % 500) for s in range(first, first + 20)))
        for first in range(1, 400, 20)
        for exhibit_id in EXHIBITS
    ]
    errors: list[BaseException] = []

    def worker(mine: list[Inbound]) -> None:
        try:
            for message in mine:
                write_batch(fleet, [message, rng_other(message)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def rng_other(message: Inbound) -> Inbound:
        # Each worker also replays a batch the other one owns.
        return batches[(batches.index(message) + 1) % len(batches)]

    threads = [threading.Thread(target=worker, args=(batches[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert usage(fleet, visit).total == 2 * 400  # seqs 1..400 of each exhibit, once
    assert_rollups_match_records(fleet)
    with fleet.connect() as connection:
        ranges = load_ranges(connection, EXHIBITS)
    assert ranges == {exhibit_id: [SeqRange(1, 400)] for exhibit_id in EXHIBITS}
