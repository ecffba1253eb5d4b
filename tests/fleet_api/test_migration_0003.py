"""Migration 0003 on a database holding data of the first release: every stored record is
placed (re-based, attributed), rolled up and its seq recorded, as ingestion would have."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select

from fleet_api.db import downgrade, make_engine, upgrade
from fleet_api.tables import boot_clocks, exhibit_seq_ranges
from tests.fleet_api.checks import assert_rollups_match_records, placements

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TIME = sa.DateTime(timezone=True)

exhibits_0002 = sa.table(
    "exhibits", sa.column("id"), sa.column("name"), sa.column("created_at", TIME)
)
schools_0002 = sa.table(
    "schools", sa.column("id"), sa.column("name"), sa.column("municipality"), sa.column("region")
)
visits_0002 = sa.table(
    "visits",
    sa.column("id"),
    sa.column("school_id"),
    sa.column("starts_at", TIME),
    sa.column("ends_at", TIME),
)
members_0002 = sa.table("visit_exhibits", sa.column("visit_id"), sa.column("exhibit_id"))
records_0002 = sa.table(
    "count_records",
    *(sa.column(name) for name in ("exhibit_id", "seq", "input", "mono_start", "seconds")),
    *(sa.column(name) for name in ("count", "boot_id", "clock_synced", "visit_id")),
    sa.column("start", TIME),
    sa.column("received_at", TIME),
)


@pytest.fixture
def legacy(db_url: str) -> Iterator[Engine]:
    """A database at revision 0002 with exhibits, visits and count records in it."""
    engine = make_engine(db_url)
    downgrade(engine, "base")  # the PostgreSQL test database starts at head
    upgrade(engine, "0002")
    with engine.begin() as connection:
        connection.execute(
            exhibits_0002.insert(),
            [{"id": e, "name": e, "created_at": T0} for e in ("exhibit-001", "exhibit-002")],
        )
        connection.execute(
            schools_0002.insert(),
            [{"id": 1, "name": "S", "municipality": "Ludzas novads", "region": "Latgale"}],
        )
        connection.execute(
            visits_0002.insert(),
            [
                {"id": 1, "school_id": 1, "starts_at": T0, "ends_at": T0 + timedelta(hours=2)},
                {"id": 2, "school_id": 1, "starts_at": T0 + DAY, "ends_at": T0 + DAY * 1.25},
            ],
        )
        connection.execute(
            members_0002.insert(),
            [
                {"visit_id": 1, "exhibit_id": "exhibit-001"},
                {"visit_id": 2, "exhibit_id": "exhibit-001"},
                {"visit_id": 2, "exhibit_id": "exhibit-002"},
            ],
        )

        def row(
            exhibit_id: str, seq: int, start: datetime, mono: float, **extra: object
        ) -> dict[str, object]:
            values = {
                "exhibit_id": exhibit_id,
                "seq": seq,
                "input": "button",
                "start": start,
                "mono_start": mono,
                "seconds": 60.0,
                "count": seq,
                "boot_id": "boot-a",
                "clock_synced": True,
                "visit_id": None,
                "received_at": T0 + DAY * 2,
            }
            return values | extra

        connection.execute(
            records_0002.insert(),
            [
                row("exhibit-001", 1, T0 + timedelta(minutes=5), 300.0),
                # A day behind, unsynced; seq 4 of the same boot was synced: re-based.
                row("exhibit-001", 2, T0 - DAY + timedelta(minutes=10), 600.0, clock_synced=False),
                row("exhibit-001", 4, T0 + timedelta(minutes=30), 1800.0),
                # Tagged with visit 2, time in visit 1: the tag wins.
                row("exhibit-001", 5, T0 + timedelta(minutes=40), 2400.0, visit_id=2),
                # Tagged with visit 1, which did not take exhibit-002: by time, no visit.
                row("exhibit-002", 1, T0 + timedelta(minutes=5), 300.0, visit_id=1),
                # Unsynced, and no synced moment of its boot: kept as it is.
                row("exhibit-002", 2, T0 + DAY, 50.0, clock_synced=False, boot_id="boot-x"),
            ],
        )
    yield engine
    engine.dispose()


def test_0003_places_rolls_up_and_ranges_the_records_of_the_first_release(legacy: Engine) -> None:
    upgrade(legacy)

    assert placements(legacy) == {
        ("exhibit-001", 1): (1, "synced", T0 + timedelta(minutes=5)),
        ("exhibit-001", 2): (1, "rebased", T0 + timedelta(minutes=10)),
        ("exhibit-001", 4): (1, "synced", T0 + timedelta(minutes=30)),
        ("exhibit-001", 5): (2, "synced", T0 + timedelta(minutes=40)),
        ("exhibit-002", 1): (None, "synced", T0 + timedelta(minutes=5)),
        ("exhibit-002", 2): (2, "unsynced", T0 + DAY),
    }
    assert_rollups_match_records(legacy)
    with legacy.connect() as connection:
        ranges = connection.execute(
            select(
                exhibit_seq_ranges.c.exhibit_id,
                exhibit_seq_ranges.c.first_seq,
                exhibit_seq_ranges.c.last_seq,
            ).order_by(exhibit_seq_ranges.c.exhibit_id, exhibit_seq_ranges.c.first_seq)
        ).all()
        references = connection.execute(
            select(boot_clocks.c.exhibit_id, boot_clocks.c.boot_id, boot_clocks.c.ref_mono)
        ).all()
    assert [tuple(r) for r in ranges] == [
        ("exhibit-001", 1, 2),
        ("exhibit-001", 4, 5),
        ("exhibit-002", 1, 2),
    ]
    assert sorted(tuple(r) for r in references) == [
        ("exhibit-001", "boot-a", 300.0),
        ("exhibit-002", "boot-a", 300.0),
    ]


def test_0003_downgrades_keeping_the_records_and_upgrades_again(legacy: Engine) -> None:
    upgrade(legacy)
    downgrade(legacy, "0002")
    with legacy.connect() as connection:
        kept = connection.execute(select(sa.func.count()).select_from(records_0002)).scalar()
    assert kept == 6
    upgrade(legacy)
    assert placements(legacy)[("exhibit-001", 2)] == (1, "rebased", T0 + timedelta(minutes=10))
    assert_rollups_match_records(legacy)
