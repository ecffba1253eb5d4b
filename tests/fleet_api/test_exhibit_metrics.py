"""Per-exhibit gauges on ``/metrics``: the values of fleet health, one series per registered
exhibit, never one per MQTT client."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
from fastapi import FastAPI

from broker.messages import utc_now
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import beat, counts, iso, record, self_test, status
from tests.fleet_api.test_metrics import scrape

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def series(found: Samples, name: str) -> dict[str, float]:
    """``exhibit_id`` -> value of every sample of ``name``."""
    return {dict(labels)["exhibit_id"]: value for (n, labels), value in found.items() if n == name}


async def test_each_exhibit_has_its_health_as_gauges(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    now = utc_now()
    for exhibit_id in ("ex-1", "ex-2", "ex-3"):
        await client.post(
            "/exhibits", json={"id": exhibit_id, "name": f"Name {exhibit_id}", "inputs": ["button"]}
        )
    school = (
        await client.post(
            "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
        )
    ).json()["id"]
    await client.post(
        "/visits",
        json={
            "school_id": school,
            "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(hours=2)),
            "exhibit_ids": ["ex-2"],
        },
    )
    write_batch(
        app.state.engine,
        [
            status("ex-1", at=now, agent_version="0.3.0"),
            beat(
                "ex-1",
                at=now,
                received_at=now - timedelta(seconds=20),
                outbox_depth=12,
                cpu_temp_c=55.5,
                under_voltage=True,
                throttled=False,
                disk_free_bytes=5_000_000,
            ),
            counts("ex-1", record(1), record(4)),
            self_test("ex-1", "c-1", {"button": False}),
            status("ex-2", online=False, at=None, boot_id=None, agent_version="0.2.0"),
            beat("ex-2", synced=False, received_at=now - timedelta(minutes=30)),
        ],
    )
    await client.patch("/exhibits/ex-1", json={"expected_config_hash": "abc"})
    found = await scrape(client)
    assert found[("fleet_exhibit_metrics_ok", ())] == 1
    assert found[("fleet_exhibits_registered", ())] == 3
    assert series(found, "fleet_exhibit_online") == {"ex-1": 1, "ex-2": 0, "ex-3": 0}
    assert series(found, "fleet_exhibit_in_visit") == {"ex-1": 0, "ex-2": 1, "ex-3": 0}
    heard = series(found, "fleet_exhibit_seconds_since_last_heard")
    assert set(heard) == {"ex-1", "ex-2"}  # ex-3 was never heard from: no sample, not 0
    assert 19 <= heard["ex-1"] < 60
    assert 1790 <= heard["ex-2"] < 1900
    assert series(found, "fleet_exhibit_outbox_backlog") == {"ex-1": 12, "ex-2": 0}
    assert series(found, "fleet_exhibit_missing_records") == {"ex-1": 2, "ex-2": 0, "ex-3": 0}
    assert series(found, "fleet_exhibit_clock_synced") == {"ex-1": 1, "ex-2": 0}
    assert series(found, "fleet_exhibit_cpu_temperature_celsius") == {"ex-1": 55.5}
    assert series(found, "fleet_exhibit_under_voltage") == {"ex-1": 1}
    assert series(found, "fleet_exhibit_throttled") == {"ex-1": 0}
    assert series(found, "fleet_exhibit_disk_free_bytes") == {"ex-1": 5_000_000}
    assert series(found, "fleet_exhibit_self_test_passed") == {"ex-1": 0}
    assert set(series(found, "fleet_exhibit_self_test_age_seconds")) == {"ex-1"}
    # ex-1's builder status carries no config hash: drift is not known, so no sample.
    assert series(found, "fleet_exhibit_config_drift") == {}
    assert series(found, "fleet_exhibit_agent_outdated") == {"ex-1": 0, "ex-2": 1}
    info = [
        dict(labels) | {"value": value}
        for (name, labels), value in found.items()
        if name == "fleet_exhibit_info"
    ]
    assert sorted(info, key=lambda labels: labels["exhibit_id"]) == [
        {
            "exhibit_id": "ex-1",
            "name": "Name ex-1",
            "agent_version": "0.3.0",
            "config_hash": "",
            "value": 1,
        },
        {
            "exhibit_id": "ex-2",
            "name": "Name ex-2",
            "agent_version": "0.2.0",
            "config_hash": "",
            "value": 1,
        },
        {
            "exhibit_id": "ex-3",
            "name": "Name ex-3",
            "agent_version": "",
            "config_hash": "",
            "value": 1,
        },
    ]


async def test_series_are_bounded_by_the_registered_exhibits_whatever_arrives(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Thousands of client ids and versions over MQTT add no series; a new version of a
    registered exhibit replaces its info series."""
    await client.post("/exhibits", json={"id": "ex-1", "name": "One"})
    generator = random.Random(18)
    strangers = [f"intruder-{generator.randrange(10**9)}" for _ in range(300)]
    write_batch(
        app.state.engine,
        [status(name, agent_version=f"9.{generator.randrange(10**6)}") for name in strangers]
        + [beat(name, outbox_depth=generator.randrange(10**6)) for name in strangers],
    )
    for version in ("0.1.0", "0.1.1", "0.2.0"):
        write_batch(app.state.engine, [status("ex-1", at=utc_now(), agent_version=version)])
    found = await scrape(client)
    exhibit_series = [key for key in found if key[0].startswith("fleet_exhibit_") and key[1]]
    assert {dict(labels)["exhibit_id"] for _, labels in exhibit_series} == {"ex-1"}
    infos = [dict(labels) for name, labels in exhibit_series if name == "fleet_exhibit_info"]
    assert [info["agent_version"] for info in infos] == ["0.2.0"]
    assert len(exhibit_series) <= 1 + 14  # info + one series per gauge at most


async def test_a_database_that_cannot_be_read_says_so_and_keeps_the_other_metrics(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/exhibits", json={"id": "ex-1", "name": "One"})
    engine = app.state.engine
    app.state.engine = _Unreadable()
    try:
        found = await scrape(client)
    finally:
        app.state.engine = engine
    assert found[("fleet_exhibit_metrics_ok", ())] == 0
    assert not any(name.startswith("fleet_exhibit_online") for name, _ in found)
    assert ("fleet_ingest_enabled", ()) in found


class _Unreadable:
    """An engine whose every connection fails as a lost database does."""

    def connect(self) -> None:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT 1", {}, Exception("connection refused"))
