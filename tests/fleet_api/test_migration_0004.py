"""Migration 0004 on a database holding rollups: ``visit_exhibit_totals`` is backfilled to
exactly the hourly rollups summed per visit and exhibit, and downgrading restores 0003."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, select

from fleet_api.db import downgrade, upgrade
from fleet_api.store.ingest import write_batch
from fleet_api.tables import visit_exhibit_totals
from tests.fleet_api.builders import counts, mixed, record, session
from tests.fleet_api.checks import assert_rollups_match_records
from tests.fleet_api.helpers import register, schedule


def test_visit_totals_are_backfilled_from_the_rollups(engine: Engine) -> None:
    register(engine, "exhibit-001", "exhibit-002")
    visit = schedule(engine, "exhibit-001", "exhibit-002", start_h=0, hours=3)
    write_batch(
        engine,
        [
            mixed(
                "exhibit-001",
                record(1, count=3, minute=10),
                record(2, count=4, minute=70, input="dial"),
                session(3, minute=80),
            ),
            counts("exhibit-002", record(1, count=0, minute=20), record(2, count=5, minute=-900)),
        ],
    )
    with engine.connect() as connection:
        maintained = set(connection.execute(select(visit_exhibit_totals)).all())
    assert maintained == {
        (visit, "exhibit-001", 7, 2, 1),
        (visit, "exhibit-002", 0, 1, 0),
        (0, "exhibit-002", 5, 1, 0),  # unassigned: before the visit
    }
    downgrade(engine, "0003")
    indexes = {index["name"] for index in inspect(engine).get_indexes("count_records")}
    assert "ix_count_records_attributed_visit_id" in indexes
    assert "visit_exhibit_totals" not in inspect(engine).get_table_names()
    upgrade(engine)
    with engine.connect() as connection:
        assert set(connection.execute(select(visit_exhibit_totals)).all()) == maintained
    assert_rollups_match_records(engine)
