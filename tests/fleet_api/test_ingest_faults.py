"""Whose fault a failed write is decides what ingestion does: wait, split, or set aside.

A message that triggers a bug must not block ingestion for every exhibit: its write is
retried a bounded number of times, then it alone is quarantined as ``storage_error`` and
the rest goes on. An unreachable database is not the message's fault: ingestion waits.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StatementError,
)

from fleet_api import ingest
from fleet_api.inbound import Inbound
from fleet_api.ingest import Fault, Ingestor, fault
from fleet_api.store.ingest import BatchOutcome, write_batch
from tests.fleet_api.builders import counts, record
from tests.fleet_api.fakes import FakeSource, eventually
from tests.fleet_api.helpers import quarantined, register, stored_records


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "RETRY_MIN_S", 0.001)
    monkeypatch.setattr(ingest, "RETRY_MAX_S", 0.01)


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, "exhibit-001", "exhibit-002")
    return engine


def _db(kind: type[Exception]) -> Exception:
    return kind("INSERT", {}, Exception("from the driver"))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_db(IntegrityError), Fault.DATA),
        (_db(DataError), Fault.DATA),
        (StatementError("bind", "INSERT", {}, ValueError("bad")), Fault.DATA),
        (_db(OperationalError), Fault.UNREACHABLE),
        (_db(InterfaceError), Fault.UNREACHABLE),
        (ConnectionResetError("reset"), Fault.UNREACHABLE),
        (_db(ProgrammingError), Fault.UNEXPECTED),
        (KeyError("seq"), Fault.UNEXPECTED),
        (OverflowError("date value out of range"), Fault.UNEXPECTED),
        (ZeroDivisionError("division by zero"), Fault.UNEXPECTED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_every_failure_has_a_fault(error: Exception, expected: Fault) -> None:
    assert fault(error) is expected


async def test_a_message_that_triggers_a_bug_is_set_aside_alone_after_bounded_retries(
    fleet: Engine,
) -> None:
    poison = counts("exhibit-002", record(7))
    attempts = {"poison": 0}

    def buggy(engine: Engine, batch: Sequence[Inbound]) -> BatchOutcome:
        if poison in batch:
            attempts["poison"] += 1
            raise KeyError("a bug this message triggers")
        return write_batch(engine, batch)

    source = FakeSource()
    ingestor = Ingestor(
        engine=fleet, source=source, batch_wait_s=0.05, writer=buggy, error_retries=2
    )
    ingestor.start()
    good = [counts("exhibit-001", record(seq)) for seq in (1, 2, 3)]
    source.push(good[0], poison, *good[1:])
    await eventually(lambda: len(source.acked) == 4)
    # Later messages are not held up behind it.
    source.push(counts("exhibit-001", record(4)))
    await eventually(lambda: len(source.acked) == 5)
    await ingestor.stop()
    assert [r[:2] for r in stored_records(fleet)] == [("exhibit-001", n) for n in (1, 2, 3, 4)]
    [(reason, topic, payload, detail)] = quarantined(fleet)
    assert (reason, topic, payload) == ("storage_error", poison.topic, poison.payload)
    assert detail == "KeyError: 'a bug this message triggers'"
    # The batch: 1 try + 2 retries; then the message alone: 1 + 2 again.
    assert attempts["poison"] == 6
    assert ingestor.stats.unexpected_errors == 6
    assert ingestor.stats.quarantined == {"storage_error": 1}


async def test_an_unreachable_database_is_waited_for_however_long(fleet: Engine) -> None:
    failures = 25  # far more than error_retries: still not the message's fault

    def away(engine: Engine, batch: Sequence[Inbound]) -> BatchOutcome:
        nonlocal failures
        if failures:
            failures -= 1
            assert source.acked == []
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        return write_batch(engine, batch)

    source = FakeSource()
    ingestor = Ingestor(engine=fleet, source=source, writer=away, error_retries=1)
    ingestor.start()
    source.push(counts("exhibit-001", record(1)))
    await eventually(lambda: len(source.acked) == 1)
    await ingestor.stop()
    assert ingestor.stats.storage_errors == 25
    assert ingestor.stats.unexpected_errors == 0
    assert quarantined(fleet) == []
    assert len(stored_records(fleet)) == 1


async def test_an_error_that_passes_costs_nothing(fleet: Engine) -> None:
    failures = 1

    def once(engine: Engine, batch: Sequence[Inbound]) -> BatchOutcome:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("a hiccup")
        return write_batch(engine, batch)

    source = FakeSource()
    ingestor = Ingestor(engine=fleet, source=source, writer=once)
    ingestor.start()
    source.push(counts("exhibit-001", record(1)))
    await eventually(lambda: len(source.acked) == 1)
    await ingestor.stop()
    assert (ingestor.stats.unexpected_errors, quarantined(fleet)) == (1, [])
