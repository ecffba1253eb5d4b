"""The domain fields of exhibits, schools and visits, and changing them, through the HTTP API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import T0, counts, iso, record


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_exhibit_is_described_and_changed(client: httpx.AsyncClient) -> None:
    created = await ok(
        await client.post(
            "/exhibits",
            json={
                "id": "exhibit-001",
                "name": "Svārsts",
                "kind": "pendulum",
                "inputs": ["button", "motion"],
                "notes": "Fuko svārsts ar sensoru",
            },
        ),
        201,
    )
    assert (created["kind"], created["inputs"], created["notes"]) == (
        "pendulum",
        ["button", "motion"],
        "Fuko svārsts ar sensoru",
    )
    changed = await ok(
        await client.patch("/exhibits/exhibit-001", json={"inputs": ["crank"], "notes": None})
    )
    assert (changed["name"], changed["inputs"], changed["notes"]) == ("Svārsts", ["crank"], None)
    assert (await client.get("/exhibits/exhibit-001")).json() == changed
    minimal = await ok(await client.post("/exhibits", json={"id": "exhibit-002", "name": "X"}), 201)
    assert (minimal["kind"], minimal["inputs"], minimal["notes"]) == (None, [], None)


# Request validation is the same on both backends: SQLite only keeps the suite quick.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        ("/exhibits/exhibit-001", {"inputs": ["a", "a"]}, "inputs lists a more than once"),
        ("/exhibits/exhibit-001", {"inputs": ["Bad Name"]}, "body.inputs.0"),
        ("/exhibits/exhibit-001", {"name": None}, "name cannot be null"),
        ("/exhibits/exhibit-001", {"id": "exhibit-009"}, "body.id: Extra inputs"),
        ("/schools/1", {"area": "suburban"}, "body.area: Input should be 'rural' or 'urban'"),
        ("/schools/1", {"region": None}, "region cannot be null"),
        ("/visits/1", {"ends_at": iso(T0)}, "must be after starts_at"),
        ("/visits/1", {"ends_at": iso(T0 + timedelta(days=40))}, "at most 31 days"),
        ("/visits/1", {"exhibit_ids": None}, "exhibit_ids cannot be null"),
        ("/visits/1", {"grades": [13]}, "body.grades.0: Input should be less than or equal to 12"),
    ],
)
async def test_invalid_changes_are_refused_with_what_is_wrong(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], detail: str
) -> None:
    await client.post("/exhibits", json={"id": "exhibit-001", "name": "X"})
    school = await ok(
        await client.post(
            "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
        ),
        201,
    )
    await ok(
        await client.post(
            "/visits",
            json={
                "school_id": school["id"],
                "starts_at": iso(T0),
                "ends_at": iso(T0 + timedelta(hours=6)),
                "exhibit_ids": ["exhibit-001"],
            },
        ),
        201,
    )
    response = await client.patch(path, json=body)
    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]


async def test_a_school_has_an_address_and_is_rural_or_urban(client: httpx.AsyncClient) -> None:
    created = await ok(
        await client.post(
            "/schools",
            json={
                "name": "Līvānu 1. vidusskola",
                "municipality": "Līvānu novads",
                "region": "Latgale",
                "address": "Rīgas iela 101, Līvāni",
                "area": "rural",
            },
        ),
        201,
    )
    changed = await ok(await client.patch(f"/schools/{created['id']}", json={"area": "urban"}))
    assert (changed["address"], changed["area"]) == ("Rīgas iela 101, Līvāni", "urban")
    assert (await client.patch("/schools/999", json={"area": "urban"})).status_code == 404


async def test_staff_record_pupils_after_the_visit_and_move_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    for exhibit_id in ("exhibit-001", "exhibit-002"):
        await client.post("/exhibits", json={"id": exhibit_id, "name": exhibit_id})
    school = await ok(
        await client.post(
            "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
        ),
        201,
    )
    electricity = await ok(await client.post("/programmes", json={"name": "Elektrība"}), 201)
    visit = await ok(
        await client.post(
            "/visits",
            json={
                "school_id": school["id"],
                "starts_at": iso(T0),
                "ends_at": iso(T0 + timedelta(hours=2)),
                "exhibit_ids": ["exhibit-001"],
                "staff": "Anna Bērziņa",
                "programme_ids": [electricity["id"]],
            },
        ),
        201,
    )
    write_batch(app.state.engine, [counts("exhibit-002", record(1, count=6, minute=200))])
    changed = await ok(
        await client.patch(
            f"/visits/{visit['id']}",
            json={
                "pupils": 24,
                "grades": [7, 6],
                "notes": "Lietus; izstāde sporta zālē",
                "ends_at": iso(T0 + timedelta(hours=4)),
                "exhibit_ids": ["exhibit-002", "exhibit-001"],
            },
        )
    )
    fields = ("pupils", "grades", "staff", "programme_ids", "exhibit_ids")
    assert {k: changed[k] for k in fields} == {
        "pupils": 24,
        "grades": [6, 7],
        "staff": "Anna Bērziņa",
        "programme_ids": [electricity["id"]],
        "exhibit_ids": ["exhibit-001", "exhibit-002"],
    }
    usage = (await client.get(f"/visits/{visit['id']}/usage")).json()
    assert (usage["total"], usage["interactions_per_pupil"]) == (6, 0.25)

    other = await ok(
        await client.post(
            "/visits",
            json={
                "school_id": school["id"],
                "starts_at": iso(T0 + timedelta(hours=5)),
                "ends_at": iso(T0 + timedelta(hours=8)),
                "exhibit_ids": ["exhibit-002"],
            },
        ),
        201,
    )
    clash = await client.patch(
        f"/visits/{other['id']}", json={"starts_at": iso(T0 + timedelta(hours=3))}
    )
    assert (clash.status_code, clash.json()["code"]) == (409, "exhibit_booked")
    missing = await client.patch("/visits/999", json={"pupils": 1})
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_visit")
