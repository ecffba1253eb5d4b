"""Fleet health: alerts as a pure function, then /fleet/health and /exhibits/{id}/health."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from broker.messages import utc_now
from fleet_api.alerts import (
    AlertCode,
    Connectivity,
    HealthFacts,
    Severity,
    Thresholds,
    alerts,
    connectivity,
)
from fleet_api.store.ingest import write_batch
from fleet_api.tables import heartbeat_history
from tests.fleet_api.builders import beat, counts, iso, record, self_test, status

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
LIMITS = Thresholds(
    offline_grace=timedelta(minutes=3), low_disk_bytes=100_000_000, outbox_backlog=500
)
HEALTHY = HealthFacts(
    online=True,
    last_seen_at=NOW - timedelta(seconds=30),
    clock_synced=True,
    under_voltage=False,
    throttled=False,
    disk_free_bytes=2_000_000_000,
    outbox_depth=0,
)


def codes(facts: HealthFacts) -> list[AlertCode]:
    return [alert.code for alert in alerts(facts, now=NOW, thresholds=LIMITS)]


def test_a_healthy_exhibit_has_no_alerts() -> None:
    assert connectivity(HEALTHY, now=NOW, thresholds=LIMITS) is Connectivity.ONLINE
    assert codes(HEALTHY) == []


@pytest.mark.parametrize(
    ("change", "state"),
    [
        ({"online": False}, Connectivity.OFFLINE),  # the last will
        ({"last_seen_at": NOW - timedelta(minutes=3)}, Connectivity.ONLINE),  # at the limit
        ({"last_seen_at": NOW - timedelta(minutes=3, seconds=1)}, Connectivity.OFFLINE),
        ({"online": None}, Connectivity.ONLINE),  # heartbeats without a status yet
        ({"online": None, "last_seen_at": None}, Connectivity.UNKNOWN),
    ],
)
def test_connectivity(change: dict[str, Any], state: Connectivity) -> None:
    assert connectivity(replace(HEALTHY, **change), now=NOW, thresholds=LIMITS) is state


def test_offline_during_a_visit_is_a_warning_and_offline_otherwise_information() -> None:
    gone = replace(HEALTHY, online=False)
    [during] = alerts(replace(gone, visit_now=12), now=NOW, thresholds=LIMITS)
    assert (during.code, during.severity) == (AlertCode.OFFLINE_DURING_VISIT, Severity.WARNING)
    assert "visit 12" in during.message
    assert "2026-05-04T11:59:30Z" in during.message
    [idle] = alerts(gone, now=NOW, thresholds=LIMITS)
    assert (idle.code, idle.severity) == (AlertCode.OFFLINE, Severity.INFO)
    assert codes(replace(HEALTHY, visit_now=12)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"under_voltage": True}, [AlertCode.UNDER_VOLTAGE]),
        ({"throttled": True}, [AlertCode.THROTTLED]),
        ({"disk_free_bytes": 99_999_999}, [AlertCode.LOW_DISK]),
        ({"disk_free_bytes": 100_000_000}, []),
        ({"disk_free_bytes": None}, []),  # a Pi that cannot tell is not flagged
        ({"clock_synced": False}, [AlertCode.UNSYNCED_CLOCK]),
        ({"missing_records": 3}, [AlertCode.DATA_GAPS]),
        ({"outbox_depth": 501}, [AlertCode.OUTBOX_BACKLOG]),
        ({"outbox_depth": 500}, []),
        ({"self_test_passed": False}, [AlertCode.SELF_TEST_FAILED]),
        ({"self_test_passed": True}, []),
    ],
)
def test_each_threshold(change: dict[str, Any], expected: list[AlertCode]) -> None:
    assert codes(replace(HEALTHY, **change)) == expected


def test_warnings_come_before_information() -> None:
    everything = replace(
        HEALTHY, online=False, visit_now=3, under_voltage=True, clock_synced=False, outbox_depth=900
    )
    severities = [a.severity for a in alerts(everything, now=NOW, thresholds=LIMITS)]
    assert severities == sorted(severities, key=[Severity.WARNING, Severity.INFO].index)


@pytest.fixture
async def fleet(app: FastAPI, client: httpx.AsyncClient) -> FastAPI:
    for exhibit_id in ("exhibit-001", "exhibit-002", "exhibit-003"):
        response = await client.post("/exhibits", json={"id": exhibit_id, "name": exhibit_id})
        assert response.status_code == 201
    return app


async def test_fleet_health_lists_every_exhibit_with_its_alerts(
    fleet: FastAPI, client: httpx.AsyncClient
) -> None:
    now = utc_now()
    school = (
        await client.post(
            "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
        )
    ).json()["id"]
    visit = await client.post(
        "/visits",
        json={
            "school_id": school,
            "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(hours=1)),
            "exhibit_ids": ["exhibit-002"],
        },
    )
    write_batch(
        fleet.state.engine,
        [
            status("exhibit-001", at=now),
            beat(
                "exhibit-001",
                at=now,
                outbox_depth=3,
                cpu_temp_c=51.5,
                under_voltage=True,
                disk_free_bytes=10_000,
                wifi_signal_dbm=-61.0,
            ),
            counts("exhibit-001", record(1), record(3)),
            status("exhibit-002", online=False, at=None, boot_id=None, agent_version=None),
        ],
    )
    response = await client.get("/fleet/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["online"], body["offline"], body["unknown"]) == (1, 1, 1)
    one, two, three = body["exhibits"]
    assert (one["exhibit_id"], one["connectivity"], one["online"]) == (
        "exhibit-001",
        "online",
        True,
    )
    assert one["heartbeat"]["cpu_temp_c"] == 51.5
    assert one["heartbeat"]["outbox_depth"] == 3
    assert (one["max_seq"], one["missing_records"]) == (3, 1)
    assert [a["code"] for a in one["alerts"]] == ["under_voltage", "low_disk", "data_gaps"]
    assert (two["connectivity"], two["visit_now"]) == ("offline", visit.json()["id"])
    assert [a["code"] for a in two["alerts"]] == ["offline_during_visit"]
    assert (three["connectivity"], three["alerts"], three["heartbeat"]) == ("unknown", [], None)
    assert body["warnings"] == 4


async def test_exhibit_health_shows_gaps_history_and_self_tests(
    fleet: FastAPI, client: httpx.AsyncClient
) -> None:
    now = utc_now()
    engine = fleet.state.engine
    write_batch(
        engine,
        [
            beat("exhibit-001", outbox_depth=5, received_at=now - timedelta(hours=2)),
            beat("exhibit-001", outbox_depth=0, received_at=now - timedelta(minutes=1)),
            beat("exhibit-001", received_at=now - timedelta(hours=30)),  # older than a day
            counts("exhibit-001", record(2), record(5)),
            self_test("exhibit-001", "c-1", {"button": True, "motion": False}),
        ],
    )
    write_batch(engine, [self_test("exhibit-001", "c-1", {"button": True, "motion": True})])
    response = await client.get("/exhibits/exhibit-001/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["gaps"] == [{"first": 1, "last": 1}, {"first": 3, "last": 4}]
    assert [h["outbox_depth"] for h in body["heartbeats"]] == [0, 5]
    # A retained result delivered again does not replace the first.
    assert body["self_test"]["seen"] == {"button": True, "motion": False}
    assert body["self_test"]["passed"] is False
    assert "self_test_failed" in [a["code"] for a in body["alerts"]]
    missing = await client.get("/exhibits/exhibit-404/health")
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_exhibit")


async def test_heartbeat_history_is_pruned_to_the_configured_days(
    fleet: FastAPI,
) -> None:
    engine = fleet.state.engine
    now = utc_now()
    write_batch(engine, [beat("exhibit-001", received_at=now - timedelta(days=d)) for d in (20, 3)])
    write_batch(engine, [beat("exhibit-001", received_at=now)], history_days=2)
    with engine.connect() as connection:
        kept = connection.execute(select(func.count()).select_from(heartbeat_history)).scalar()
    assert kept == 1
