"""Engagement sessions and the per-visit usage built on them, through the HTTP API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fleet_api.store.ingest import write_batch
from fleet_api.tables import session_records
from tests.fleet_api.builders import T0, counts, iso, mixed, record, session


@pytest.fixture
async def visit(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    for exhibit_id in ("exhibit-001", "exhibit-002"):
        response = await client.post("/exhibits", json={"id": exhibit_id, "name": exhibit_id})
        assert response.status_code == 201, response.text
    school = await client.post(
        "/schools", json={"name": "Rīgas skola", "municipality": "Rīga", "region": "Rīga"}
    )
    body = {
        "school_id": school.json()["id"],
        "starts_at": iso(T0),
        "ends_at": iso(T0 + timedelta(hours=2)),
        "exhibit_ids": ["exhibit-001", "exhibit-002"],
        "pupils": 20,
        "grades": [6, 5, 5],
    }
    response = await client.post("/visits", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["grades"] == [5, 6]
    return created


async def get_usage(client: httpx.AsyncClient, visit_id: int) -> dict[str, Any]:
    response = await client.get(f"/visits/{visit_id}/usage")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sessions_are_stored_beside_counts_and_never_counted_twice(
    app: FastAPI, client: httpx.AsyncClient, visit: dict[str, Any]
) -> None:
    batch = mixed(
        "exhibit-001",
        record(1, count=12, minute=5),
        session(2, minute=5, dwell_s=40, interactions=7),
        session(3, minute=65, dwell_s=20, interactions=3),
        session(4, minute=70, dwell_s=90, interactions=2),
    )
    first = write_batch(app.state.engine, [batch])
    again = write_batch(app.state.engine, [batch])
    assert (first.records_received, first.records_inserted, first.quarantined) == (4, 4, {})
    assert (again.records_inserted, again.records_duplicate) == (0, 4)
    with app.state.engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(session_records)).scalar()
    assert stored == 3

    body = await get_usage(client, visit["id"])
    one = body["exhibits"][0]
    assert (one["exhibit_id"], one["total"], one["sessions"]) == ("exhibit-001", 12, 3)
    assert one["median_dwell_s"] == 40.0
    assert (one["in_use_s"], one["in_use_basis"]) == (150.0, "sessions")
    assert one["in_use_share"] == round(150 / 7200, 4)
    assert one["interactions_per_pupil"] == 0.6
    assert [(h["hour"], h["count"], h["sessions"]) for h in one["timeline"]] == [
        ("2026-05-04T08:00:00Z", 12, 1),
        ("2026-05-04T09:00:00Z", 0, 2),
    ]
    assert (body["sessions"], body["median_dwell_s"], body["pupils"]) == (3, 40.0, 20)
    assert body["interactions_per_pupil"] == 0.6
    assert body["time_zone"] == "UTC"


async def test_without_sessions_time_in_use_comes_from_busy_buckets(
    app: FastAPI, client: httpx.AsyncClient, visit: dict[str, Any]
) -> None:
    # Two inputs busy in the same minute count that minute once; an idle bucket not at all.
    write_batch(
        app.state.engine,
        [
            counts(
                "exhibit-002",
                record(1, input="button", count=3, minute=10),
                record(2, input="motion", count=1, minute=10),
                record(3, input="button", count=2, minute=11),
                record(4, input="button", count=0, minute=30),
            )
        ],
    )
    body = await get_usage(client, visit["id"])
    two = next(e for e in body["exhibits"] if e["exhibit_id"] == "exhibit-002")
    assert (two["in_use_s"], two["in_use_basis"], two["sessions"]) == (120.0, "buckets", 0)
    assert two["median_dwell_s"] is None
    idle = next(e for e in body["exhibits"] if e["exhibit_id"] == "exhibit-001")
    assert (idle["in_use_s"], idle["in_use_share"], idle["total"]) == (None, None, 0)
