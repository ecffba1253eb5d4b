"""Bounds through ingestion: generated histories sent in random batches, into SQLite.

The same world as ``test_bounds.py`` (count buckets sealed in seq order, boots with
clocks wrong either way, synced or never), now through ``write_batch`` with the batches
split at random and each received after its last record was sealed: every record is in
its true visit, or unplaced with its true visit (or "no visit") among its candidates,
and the rollups equal the records. This is what the incremental settling must keep.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.messages import CountRecord
from fleet_api.attribution import VisitIndex, VisitWindow
from fleet_api.bounds import Bounds, candidates
from fleet_api.db import make_engine, upgrade
from fleet_api.models.schools import SchoolCreate
from fleet_api.models.visits import VisitCreate
from fleet_api.store.ingest import write_batch
from fleet_api.store.schools import create_school
from fleet_api.store.visits import create_visit
from fleet_api.tables import count_records
from fleet_api.tables_bounds import record_bounds
from tests.fleet_api.builders import counts
from tests.fleet_api.checks import assert_rollups_match_records
from tests.fleet_api.helpers import register
from tests.fleet_api.tokens import TEST_ACTOR

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
E = "exhibit-001"


@st.composite
def worlds(
    draw: st.DrawFn,
) -> tuple[list[tuple[datetime, int, bool, float, float]], list[tuple[int, int]]]:
    """Records in seq order as (true start, boot, synced, wall error s, mono), and visits
    as (start minute, length minutes) after T0, not overlapping."""
    made = []
    now = T0
    for boot in range(draw(st.integers(1, 4))):
        synced = draw(st.booleans())
        error = draw(st.sampled_from([0, -26 * 3600, 36 * 3600, -3600, 7 * 86400]))
        boot_start = now
        for _ in range(draw(st.integers(1, 15))):
            now += timedelta(seconds=draw(st.integers(60, 300) | st.integers(60, 7_200)))
            made.append((now, boot, synced, float(error), (now - boot_start).total_seconds() + 5))
        now += timedelta(minutes=draw(st.integers(1, 600) | st.integers(1, 3000)))
    visits, start = [], draw(st.integers(-120, 300))
    for _ in range(draw(st.integers(0, 4))):
        length = draw(st.integers(20, 400))
        visits.append((start, length))
        start += length + draw(st.integers(0, 600))
    return made, visits


@pytest.mark.timeout(900)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    world=worlds(),
    tagged=st.booleans(),
    cuts=st.lists(st.integers(1, 8), max_size=12),
    delay=st.integers(0, 4000),
)
def test_through_ingestion_no_record_lands_in_a_visit_it_was_not_in(
    world: tuple[list[tuple[datetime, int, bool, float, float]], list[tuple[int, int]]],
    tagged: bool,
    cuts: list[int],
    delay: int,
) -> None:
    made, plan = world
    path = Path(tempfile.mkdtemp()) / "fleet.db"
    shutil.copy(_migrated(), path)
    engine = make_engine(f"sqlite:///{path}")
    windows = []
    with Session(engine) as session:
        school = create_school(
            session,
            school=SchoolCreate(name="Skola", municipality="Kuldīgas novads", region="Kurzeme"),
            actor=TEST_ACTOR,
        )
        for start, length in plan:
            visit = create_visit(
                session,
                visit=VisitCreate(
                    school_id=school.id,
                    starts_at=T0 + timedelta(minutes=start),
                    ends_at=T0 + timedelta(minutes=start + length),
                    exhibit_ids=[E],
                ),
                actor=TEST_ACTOR,
            )
            windows.append(VisitWindow(visit.id, visit.starts_at, visit.ends_at, frozenset({E})))
    index = VisitIndex(windows)
    truth = {}
    records = []
    for seq, (true, boot, synced, error, mono) in enumerate(made, 1):
        true_visit = index.scheduled(E, true)
        truth[seq] = None if true_visit is None else true_visit.id
        records.append(
            CountRecord(
                seq=seq,
                input="button",
                start=true if synced else true + timedelta(seconds=error),
                mono_start=mono,
                seconds=60.0,
                count=1,
                boot_id=f"boot-{boot}",
                clock_synced=synced,
                visit_id=truth[seq] if tagged else None,
            )
        )
    at, position = 0, 0
    while at < len(records):
        size = cuts[position % len(cuts)] if cuts else len(records)
        batch = records[at : at + size]
        sealed = made[at + len(batch) - 1][0] + timedelta(seconds=60)
        inbound = replace(counts(E, *batch), received_at=sealed + timedelta(seconds=delay))
        write_batch(engine, [inbound])
        at, position = at + size, position + 1

    with engine.connect() as connection:
        placed = {
            row[0]: row[1]
            for row in connection.execute(
                select(count_records.c.seq, count_records.c.attributed_visit_id)
            )
        }
        bounds = {row.seq: row for row in connection.execute(select(record_bounds)).all()}
    for seq, visit in placed.items():
        if visit == truth[seq]:
            continue
        assert visit is None, (seq, visit, truth[seq])
        row = bounds.get(seq)
        assert row is not None, (seq, truth[seq])
        assert row.unplaced, (seq, truth[seq])
        found, outside = candidates(index, E, Bounds(row.earliest, row.latest))
        if truth[seq] is None:
            assert outside, seq
        else:
            assert truth[seq] in {w.id for w in found}, seq
    assert_rollups_match_records(engine)
    engine.dispose()
    shutil.rmtree(path.parent)


@functools.cache
def _migrated() -> Path:
    """One migrated database with the exhibit registered, copied for each example."""
    path = Path(tempfile.mkdtemp()) / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    register(engine, E)
    engine.dispose()
    return path
