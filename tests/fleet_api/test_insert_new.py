"""insert_new on each backend: only new rows come back, however often it runs, and a
refused row raises SQLAlchemy's exception (ingestion quarantines on it, never retries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from fleet_api.store.dialect import insert_new
from fleet_api.store.records import COUNT_COLUMNS
from fleet_api.tables import count_records
from tests.fleet_api.helpers import register

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
KEY = ("exhibit_id", "seq")


def row(seq: int, **changes: Any) -> tuple[Any, ...]:
    values = {
        "exhibit_id": "exhibit-001",
        "seq": seq,
        "input": "button",
        "start": T0 + timedelta(minutes=seq),
        "mono_start": 60.0 * seq,
        "seconds": 60.0,
        "count": seq,
        "boot_id": "boot-1",
        "clock_synced": True,
        "visit_id": None,
        "received_at": T0,
        "corrected_start": T0 + timedelta(minutes=seq),
        "time_basis": "synced",
        "attributed_visit_id": None,
    }
    values.update(changes)
    return tuple(values[name] for name in COUNT_COLUMNS)


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(count_records)).scalar_one()


def test_only_new_rows_come_back_in_one_transaction_and_the_next(engine: Engine) -> None:
    register(engine, "exhibit-001")
    with engine.begin() as connection:
        first = insert_new(connection, count_records, COUNT_COLUMNS, [row(1), row(2)], key=KEY)
        # Twice in one transaction: nothing staged before may come back again.
        second = insert_new(connection, count_records, COUNT_COLUMNS, [row(2), row(3)], key=KEY)
    with engine.begin() as connection:
        third = insert_new(connection, count_records, COUNT_COLUMNS, [row(3), row(4)], key=KEY)

    assert sorted(first) == [("exhibit-001", 1), ("exhibit-001", 2)]
    assert second == [("exhibit-001", 3)]
    assert third == [("exhibit-001", 4)]
    assert stored(engine) == 4


def test_a_rolled_back_transaction_leaves_nothing_and_the_next_one_works(engine: Engine) -> None:
    register(engine, "exhibit-001")
    with engine.connect() as connection:
        # The first use of this connection creates the staging table, then rolls back.
        insert_new(connection, count_records, COUNT_COLUMNS, [row(1)], key=KEY)
        connection.rollback()
        assert insert_new(connection, count_records, COUNT_COLUMNS, [row(2)], key=KEY)
        connection.rollback()
    with engine.begin() as connection:
        again = insert_new(connection, count_records, COUNT_COLUMNS, [row(1)], key=KEY)

    assert again == [("exhibit-001", 1)]
    assert stored(engine) == 1


def test_a_refused_row_raises_sqlalchemys_integrity_error(engine: Engine) -> None:
    register(engine, "exhibit-001")
    with pytest.raises(IntegrityError), engine.begin() as connection:
        insert_new(connection, count_records, COUNT_COLUMNS, [row(1), row(2, input=None)], key=KEY)

    assert stored(engine) == 0


def test_a_naive_time_is_refused_before_it_reaches_the_database(engine: Engine) -> None:
    register(engine, "exhibit-001")
    naive = row(1, received_at=datetime(2026, 5, 4, 8, 0))
    with pytest.raises(ValueError, match="naive datetime"), engine.begin() as connection:
        insert_new(connection, count_records, COUNT_COLUMNS, [naive], key=KEY)
