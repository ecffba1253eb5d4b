"""The HTTP API in-process (httpx ASGITransport), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import T0, counts, iso, record

PROBLEM = "application/problem+json"


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], status: int = 201
) -> Any:
    response = await client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


async def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def make_school(client: httpx.AsyncClient) -> int:
    body = {
        "name": "Kuldīgas 2. vidusskola",
        "municipality": "Kuldīgas novads",
        "region": "Kurzeme",
    }
    school: int = (await post(client, "/schools", body))["id"]
    return school


def visit_body(
    school_id: int, *exhibit_ids: str, start_h: float = 0, hours: float = 6
) -> dict[str, Any]:
    return {
        "school_id": school_id,
        "starts_at": iso(T0 + timedelta(hours=start_h)),
        "ends_at": iso(T0 + timedelta(hours=start_h + hours)),
        "exhibit_ids": list(exhibit_ids),
    }


async def test_exhibits_are_registered_listed_and_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/exhibits", json={"id": "exhibit-002", "name": " Wind tunnel "})
    assert response.status_code == 201
    assert response.headers["location"] == "/exhibits/exhibit-002"
    created = response.json()
    assert (created["id"], created["name"]) == ("exhibit-002", "Wind tunnel")
    assert created["status"] is None
    await post(client, "/exhibits", {"id": "exhibit-001", "name": "Pendulum"})

    listed = (await client.get("/exhibits")).json()
    assert [e["id"] for e in listed] == ["exhibit-001", "exhibit-002"]
    assert (await client.get("/exhibits", params={"limit": 1, "offset": 1})).json() == [created]
    assert (await client.get("/exhibits/exhibit-002")).json() == created


async def test_registering_an_exhibit_twice_is_a_conflict(client: httpx.AsyncClient) -> None:
    await post(client, "/exhibits", {"id": "exhibit-001", "name": "Pendulum"})
    body = await problem(
        await client.post("/exhibits", json={"id": "exhibit-001", "name": "X"}), 409
    )
    assert body["detail"] == "exhibit 'exhibit-001' is already registered"
    assert body["code"] == "exhibit_exists"


@pytest.mark.parametrize("bad_id", ["Exhibit-001", "-x", "a/b", "x" * 65, ""])
async def test_an_exhibit_id_that_cannot_be_a_topic_level_is_refused(
    client: httpx.AsyncClient, bad_id: str
) -> None:
    body = await problem(await client.post("/exhibits", json={"id": bad_id, "name": "X"}), 422)
    assert body["detail"].startswith("body.id:")


async def test_unknown_resources_are_404_with_a_precise_message(client: httpx.AsyncClient) -> None:
    cases = {
        "/exhibits/exhibit-404": "exhibit 'exhibit-404' is not registered",
        "/schools/404": "school 404 does not exist",
        "/visits/404": "visit 404 does not exist",
        "/visits/404/usage": "visit 404 does not exist",
    }
    for path, detail in cases.items():
        body = await problem(await client.get(path), 404)
        assert body["detail"] == detail
    assert (await problem(await client.get("/nowhere"), 404))["code"] == "not_found"


async def test_schools_are_created_listed_and_read(client: httpx.AsyncClient) -> None:
    school_id = await make_school(client)
    expected = {
        "id": school_id,
        "name": "Kuldīgas 2. vidusskola",
        "municipality": "Kuldīgas novads",
        "region": "Kurzeme",
        "municipality_code": "LV-050",
        "region_code": "LV:PR:KURZEME",
        "statistical_region_code": "LV00B",
        "place_mapped": True,
        "address": None,
        "area": None,
        "archived_at": None,
    }
    assert (await client.get(f"/schools/{school_id}")).json() == expected
    assert (await client.get("/schools")).json() == [expected]
    body = await problem(await client.post("/schools", json={"name": "", "municipality": ""}), 422)
    assert "(and 1 more)" in body["detail"]
    assert len(body["errors"]) == 2


async def test_a_visit_is_scheduled_and_read_back(client: httpx.AsyncClient) -> None:
    for exhibit_id in ("exhibit-002", "exhibit-001"):
        await post(client, "/exhibits", {"id": exhibit_id, "name": exhibit_id})
    school_id = await make_school(client)
    # Times with any offset are stored and returned in UTC.
    body = visit_body(school_id, "exhibit-002", "exhibit-001")
    body["starts_at"] = "2026-05-04T10:00:00+02:00"
    created = await post(client, "/visits", body)
    assert created == {
        "id": created["id"],
        "school_id": school_id,
        "starts_at": "2026-05-04T08:00:00Z",
        "ends_at": "2026-05-04T14:00:00Z",
        "exhibit_ids": ["exhibit-001", "exhibit-002"],
        "programme_ids": [],
        "status": "held",  # it ended long ago and nobody cancelled it
        **dict.fromkeys(("pupils", "teachers", "grades", "staff", "notes", "status_reason")),
        **dict.fromkeys(("checked_out_at", "checked_in_at")),
    }
    assert (await client.get(f"/visits/{created['id']}")).json() == created
    assert (await client.get("/visits")).json() == [created]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"ends_at": iso(T0)}, "ends_at (2026-05-04T08:00:00+00:00) must be after starts_at"),
        ({"ends_at": iso(T0 - timedelta(hours=1))}, "must be after starts_at"),
        (
            {"starts_at": "2026-05-04T08:00:00"},
            "body.starts_at: a date-time must be RFC 3339 (ISO 8601 with seconds and an offset)",
        ),
        ({"exhibit_ids": []}, "body.exhibit_ids: List should have at least 1 item"),
        ({"exhibit_ids": ["exhibit-001", "exhibit-001"]}, "lists exhibit-001 more than once"),
        ({"school_id": 0}, "body.school_id: Input should be greater than or equal to 1"),
        ({"pupils": -1}, "body.pupils: Input should be greater than or equal to 0"),
        ({"surprise": 25}, "body.surprise: Extra inputs are not permitted"),
    ],
)
async def test_an_invalid_visit_is_refused_with_what_is_wrong(
    client: httpx.AsyncClient, change: dict[str, Any], detail: str
) -> None:
    await post(client, "/exhibits", {"id": "exhibit-001", "name": "Pendulum"})
    body = visit_body(await make_school(client), "exhibit-001") | change
    result = await problem(await client.post("/visits", json=body), 422)
    assert detail in result["detail"]
    assert (await client.get("/visits")).json() == []


async def test_a_visit_naming_unknown_things_says_which(client: httpx.AsyncClient) -> None:
    await post(client, "/exhibits", {"id": "exhibit-001", "name": "Pendulum"})
    school_id = await make_school(client)
    no_school = await client.post("/visits", json=visit_body(school_id + 1, "exhibit-001"))
    assert (await problem(no_school, 422))["detail"] == f"school {school_id + 1} does not exist"
    no_exhibits = await client.post(
        "/visits", json=visit_body(school_id, "exhibit-001", "exhibit-009", "exhibit-008")
    )
    body = await problem(no_exhibits, 422)
    assert body["detail"] == "exhibits 'exhibit-008', 'exhibit-009' are not registered"
    assert body["code"] == "unknown_reference"


async def test_an_exhibit_cannot_be_in_two_overlapping_visits(client: httpx.AsyncClient) -> None:
    for exhibit_id in ("exhibit-001", "exhibit-002"):
        await post(client, "/exhibits", {"id": exhibit_id, "name": exhibit_id})
    school_id = await make_school(client)
    first = await post(client, "/visits", visit_body(school_id, "exhibit-001", hours=6))
    clash = await client.post(
        "/visits", json=visit_body(school_id, "exhibit-002", "exhibit-001", start_h=5)
    )
    body = await problem(clash, 409)
    assert body["detail"] == (
        f"exhibit 'exhibit-001' is already in visit {first['id']} from "
        "2026-05-04T08:00:00+00:00 to 2026-05-04T14:00:00+00:00"
    )
    # Back to back is fine: [starts_at, ends_at) do not overlap.
    await post(client, "/visits", visit_body(school_id, "exhibit-001", start_h=6))


async def test_usage_has_the_shape_verify_reads(app: FastAPI, client: httpx.AsyncClient) -> None:
    for exhibit_id in ("exhibit-001", "exhibit-002"):
        await post(client, "/exhibits", {"id": exhibit_id, "name": exhibit_id})
    visit = await post(
        client, "/visits", visit_body(await make_school(client), "exhibit-002", "exhibit-001")
    )
    write_batch(
        app.state.engine,
        [counts("exhibit-001", record(1, input="motion", count=10), record(2, count=20, minute=5))],
    )
    response = await client.get(f"/visits/{visit['id']}/usage")
    assert response.status_code == 200
    body = response.json()
    # Later releases add fields; those of the first one keep their names and meaning.
    body["exhibits"] = [
        {key: exhibit[key] for key in ("exhibit_id", "total", "inputs")}
        for exhibit in body["exhibits"]
    ]
    assert {
        key: body[key] for key in ("visit_id", "starts_at", "ends_at", "total", "exhibits")
    } == {
        "visit_id": visit["id"],
        "starts_at": "2026-05-04T08:00:00Z",
        "ends_at": "2026-05-04T14:00:00Z",
        "total": 30,
        "exhibits": [
            {
                "exhibit_id": "exhibit-001",
                "total": 30,
                "inputs": [{"input": "button", "count": 20}, {"input": "motion", "count": 10}],
            },
            {"exhibit_id": "exhibit-002", "total": 0, "inputs": []},
        ],
    }


async def test_health_and_ingest_stats_without_ingestion(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert (health.status_code, health.json()) == (
        200,
        {"status": "ok", "database": "ok", "database_detail": None, "ingestion": "disabled"},
    )
    stats = (await client.get("/ingest/stats")).json()
    assert (stats["enabled"], stats["connected"], stats["messages"]) == (False, False, 0)
    assert set(stats["quarantined"]) >= {"malformed", "unknown_exhibit", "topic_mismatch"}


async def test_the_openapi_document_describes_every_route(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths) == {
        "/audit",
        "/places",
        "/places/datasets",
        "/places/{code}",
        "/programmes",
        "/programmes/{programme_id}",
        "/visits/{visit_id}/cancel",
        "/visits/{visit_id}/reinstate",
        "/exhibits",
        "/exhibits/{exhibit_id}",
        "/schools",
        "/schools/{school_id}",
        "/visits",
        "/visits/{visit_id}",
        "/visits/{visit_id}/usage",
        "/healthz",
        "/ingest/stats",
        "/quarantine",
        "/quarantine/{item_id}",
        "/tokens",
        "/tokens/{token_id}",
        "/visits/{visit_id}/checkout",
        "/visits/{visit_id}/checkin",
        "/visits/{visit_id}/readiness",
        "/visits/{visit_id}/self-test",
        "/alerts",
        "/alerts/test",
        "/exhibits/{exhibit_id}/commands",
        "/exhibits/{exhibit_id}/config",
        "/exhibits/{exhibit_id}/resend",
        "/exhibits/{exhibit_id}/health",
        "/fleet/health",
        "/reports/usage",
        "/reports/funder",
        "/unplaced",
        "/unplaced/assign",
        "/unplaced/unassign",
    }
    assert PROBLEM in paths["/visits"]["post"]["responses"]["409"]["content"]
    # Every documented error is a problem detail, FastAPI's default 422 included.
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    assert PROBLEM in response["content"], (method, path, status)
