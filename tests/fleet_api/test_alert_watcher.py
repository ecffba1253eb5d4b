"""The watcher against the database, on a clock the test moves: a flapping exhibit at
6 am, an API restart in the middle of it, and ingestion that is not connected."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from fleet_api.alert_changes import Hold
from fleet_api.alert_tables import alert_events, alert_states, notification_deliveries
from fleet_api.alerts import Severity, Thresholds
from fleet_api.notifications.watcher import AlertWatcher
from fleet_api.store.alert_states import Targets
from fleet_api.store.ingest import write_batch
from fleet_api.tables import exhibits
from tests.fleet_api.builders import T0, beat, status
from tests.fleet_api.helpers import register, schedule

LIMITS = Thresholds(offline_grace=timedelta(minutes=3), low_disk_bytes=1000, outbox_backlog=1000)
HOLD = Hold(raise_after=timedelta(minutes=2), resolve_after=timedelta(minutes=10))
TARGETS = Targets(webhooks=("depot",), emails=("tech@example.lv",))


@dataclass
class Clock:
    """Wall time the test moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Ingestion:
    """What the watcher asks of an ingestor: whether it is connected."""

    connected: bool = True


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


def watcher(engine: Engine, clock: Clock, ingestion: Ingestion | None = None) -> AlertWatcher:
    return AlertWatcher(
        engine,
        thresholds=LIMITS,
        hold=HOLD,
        targets=TARGETS,
        interval_s=60,
        ingestor=ingestion,  # type: ignore[arg-type]
        worker="fleet-ingest",
        on_change=lambda changes: None,
        clock=clock,
    )


def heard(engine: Engine, clock: Clock, *, online: bool) -> None:
    """exhibit-001 says it is online (a birth and a heartbeat), or its will says it is not."""
    if online:
        said = [status("exhibit-001", at=clock.now), beat("exhibit-001", at=clock.now)]
    else:
        said = [status("exhibit-001", online=False, at=None, boot_id=None)]
    write_batch(engine, [replace(message, received_at=clock.now) for message in said])


def events(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(alert_events.c.alert_id, alert_events.c.status).order_by(alert_events.c.at)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.fixture
def visit(engine: Engine, clock: Clock) -> int:
    register(engine, "exhibit-001")
    # A school day around now (schedule() counts from the builders' T0).
    hours = (clock.now - T0).total_seconds() / 3600
    return schedule(engine, "exhibit-001", start_h=hours - 1, hours=8)


async def test_a_wifi_that_comes_and_goes_all_morning_rings_once(
    engine: Engine, clock: Clock, visit: int
) -> None:
    first = watcher(engine, clock)
    for minute in range(90):
        # On for four minutes, off for four (the will comes at once), for an hour and a half.
        heard(engine, clock, online=(minute // 4) % 2 == 0)
        if minute == 45:
            first = watcher(engine, clock)  # the API restarts in the middle of it
        await first.tick()
        clock.now += timedelta(minutes=1)
    alert = f"exhibit-001:offline_during_visit:visit-{visit}"
    assert events(engine) == [(alert, "raised")]
    # It settles: online for good. Resolved ten minutes later, once.
    for _ in range(15):
        heard(engine, clock, online=True)
        await first.tick()
        clock.now += timedelta(minutes=1)
    assert events(engine) == [(alert, "raised"), (alert, "resolved")]
    with engine.connect() as connection:
        targets = connection.execute(
            select(notification_deliveries.c.channel, notification_deliveries.c.destination)
        ).all()
        assert connection.execute(select(alert_states)).all() == []
    assert sorted(targets) == sorted([("email", "tech@example.lv"), ("webhook", "depot")] * 2)


async def test_while_ingestion_is_not_connected_nothing_about_exhibits_changes(
    engine: Engine, clock: Clock, visit: int
) -> None:
    ingestion = Ingestion(connected=False)
    alerts = watcher(engine, clock, ingestion)
    heard(engine, clock, online=True)
    # The broker is away for an hour: every exhibit's news gets old, and looks offline.
    for _ in range(60):
        await alerts.tick()
        clock.now += timedelta(minutes=1)
    assert events(engine) == [("fleet:ingestion_down:fleet-ingest", "raised")]
    # Back: the exhibit is heard again at once; exhibits are judged after the grace.
    ingestion.connected = True
    for _ in range(15):
        heard(engine, clock, online=True)
        await alerts.tick()
        clock.now += timedelta(minutes=1)
    assert events(engine) == [
        ("fleet:ingestion_down:fleet-ingest", "raised"),
        ("fleet:ingestion_down:fleet-ingest", "resolved"),
    ]
    with engine.connect() as connection:
        severity = connection.execute(select(alert_events.c.severity)).scalars().first()
    assert severity == Severity.WARNING.value


async def test_a_retired_exhibit_calls_nobody(engine: Engine, clock: Clock, visit: int) -> None:
    with engine.begin() as connection:
        connection.execute(update(exhibits).values(retired_at=clock.now))
    alerts = watcher(engine, clock)
    heard(engine, clock, online=False)
    for _ in range(10):
        await alerts.tick()
        clock.now += timedelta(minutes=1)
    assert events(engine) == []
