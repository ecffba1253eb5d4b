"""Visit lifecycle and the audit trail, through the HTTP API: a planned visit counts in
no report until it has ended or is checked in; cancelling (with a reason) takes a visit
out of every count, and undoing it puts it back; schools are archived and exhibits
retired without losing history; every change is in ``GET /audit``, which nothing in the
API can change, and which the database itself refuses to change."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fleet_api.main import create_app
from fleet_api.settings import Settings
from tests.fleet_api.builders import iso
from tests.fleet_api.fakes import FakeSource

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    """The app publishing through a fake broker, so check-in works."""
    with_mqtt = settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    app = create_app(with_mqtt, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def plan(client: httpx.AsyncClient, school: int, start: datetime, **extra: Any) -> int:
    body = {
        "school_id": school,
        "starts_at": iso(start),
        "ends_at": iso(start + timedelta(hours=3)),
        "exhibit_ids": ["exhibit-001"],
        **extra,
    }
    return int((await created(await client.post("/visits", json=body)))["id"])


@pytest.fixture
async def school(client: httpx.AsyncClient) -> int:
    await created(await client.post("/exhibits", json={"id": "exhibit-001", "name": "Svārsts"}))
    body = {"name": "Cēsu skola", "municipality": "Cēsu novads", "region": "Vidzeme"}
    return int((await created(await client.post("/schools", json=body)))["id"])


async def totals(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/reports/funder")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_only_held_visits_count_and_planned_ones_are_listed_apart(
    client: httpx.AsyncClient, school: int
) -> None:
    past = await plan(client, school, NOW - timedelta(days=10), pupils=20)
    future = await plan(client, school, NOW + timedelta(days=400), pupils=500)
    assert (await client.get(f"/visits/{past}")).json()["status"] == "held"
    assert (await client.get(f"/visits/{future}")).json()["status"] == "planned"
    body = await totals(client)
    assert body["totals"]["field_trips_held"] == 1
    assert body["totals"]["pupil_participations"] == 20
    assert body["totals"]["planned_visits"] == 1
    assert [v["visit_id"] for v in body["visits"]] == [past]
    assert [(v["visit_id"], v["status"]) for v in body["not_counted"]] == [(future, "planned")]


async def test_cancelling_takes_a_visit_out_of_every_count_and_can_be_undone(
    client: httpx.AsyncClient, school: int
) -> None:
    visit = await plan(client, school, NOW - timedelta(days=3), pupils=30)
    refused = await client.post(f"/visits/{visit}/cancel", json={"reason": "  "})
    assert refused.status_code == 422
    response = await client.post(
        f"/visits/{visit}/cancel", json={"reason": "The bus did not come; nobody went."}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["status_reason"]) == (
        "cancelled",
        "The bus did not come; nobody went.",
    )
    body = await totals(client)
    assert (body["totals"]["field_trips_held"], body["totals"]["cancelled_visits"]) == (0, 1)
    assert body["totals"]["pupil_participations"] == 0
    by_month = (await client.get("/reports/usage", params={"group_by": "month"})).json()
    assert by_month["rows"] == []
    checkout = await client.post(f"/visits/{visit}/checkout")
    assert (checkout.status_code, checkout.json()["code"]) == (409, "visit_cancelled")
    undone = await client.post(f"/visits/{visit}/reinstate", json={"reason": "It did happen."})
    assert (undone.status_code, undone.json()["status"]) == (200, "held")
    assert undone.json()["status_reason"] is None
    again = await client.post(f"/visits/{visit}/reinstate", json={"reason": "twice"})
    assert again.status_code == 422
    assert (await totals(client))["totals"]["field_trips_held"] == 1


async def test_check_in_marks_a_visit_held_before_it_ends(
    client: httpx.AsyncClient, school: int
) -> None:
    visit = await plan(client, school, NOW - timedelta(hours=1))
    assert (await client.get(f"/visits/{visit}")).json()["status"] == "planned"
    assert (await client.post(f"/visits/{visit}/checkout")).status_code == 200
    checked_in = await client.post(f"/visits/{visit}/checkin")
    assert (checked_in.status_code, checked_in.json()["status"]) == (200, "held")
    assert (await totals(client))["totals"]["field_trips_held"] == 1


async def test_archived_schools_and_retired_exhibits_keep_their_history(
    client: httpx.AsyncClient, school: int
) -> None:
    visit = await plan(client, school, NOW - timedelta(days=5), pupils=12)
    archived = await client.patch(f"/schools/{school}", json={"archived": True})
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    retired = await client.patch("/exhibits/exhibit-001", json={"retired": True})
    assert retired.status_code == 200
    assert retired.json()["retired_at"] is not None
    refused = await client.post(
        "/visits",
        json={
            "school_id": school,
            "starts_at": iso(NOW + timedelta(days=1)),
            "ends_at": iso(NOW + timedelta(days=1, hours=2)),
            "exhibit_ids": ["exhibit-001"],
        },
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "unknown_reference")
    assert "archived" in refused.json()["detail"]
    # The history stays: the visit, its report line, and a change to it.
    assert (await totals(client))["totals"]["field_trips_held"] == 1
    changed = await client.patch(f"/visits/{visit}", json={"pupils": 13})
    assert changed.status_code == 200, changed.text
    restored = await client.patch(f"/schools/{school}", json={"archived": False})
    assert restored.json()["archived_at"] is None


async def test_every_change_is_in_the_audit_trail_with_who_and_before_after(
    client: httpx.AsyncClient, school: int, auth_headers: Any
) -> None:
    visit = await plan(client, school, NOW - timedelta(days=2), pupils=20)
    staff = auth_headers("staff")
    changed = await client.patch(f"/visits/{visit}", json={"pupils": 24}, headers=staff)
    assert changed.status_code == 200, changed.text
    await client.post(f"/visits/{visit}/cancel", json={"reason": "Snow"}, headers=staff)
    response = await client.get("/audit", params={"entity": "visit", "entity_id": str(visit)})
    assert response.status_code == 200, response.text
    assert response.headers["x-total-count"] == "3"
    entries = response.json()
    assert [e["action"] for e in entries] == ["visit.cancel", "visit.update", "visit.create"]
    update = entries[1]
    assert (update["before"], update["after"]) == ({"pupils": 20}, {"pupils": 24})
    assert (update["actor_name"], update["actor_role"], update["via"]) == (
        "test staff",
        "staff",
        "api",
    )
    assert entries[0]["reason"] == "Snow"
    assert entries[2]["actor_role"] == "admin"
    paged = await client.get("/audit", params={"limit": 1, "offset": 1, "action": "visit.update"})
    assert paged.json() == []
    assert paged.headers["x-total-count"] == "1"
    schools = (await client.get("/audit", params={"entity": "school"})).json()
    assert [e["action"] for e in schools] == ["school.create"]


async def test_nobody_can_change_the_audit_trail(
    app: FastAPI, client: httpx.AsyncClient, school: int
) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, "/audit")
        assert response.status_code == 405, (method, response.text)
    assert (await client.delete("/audit/1")).status_code == 404
    with app.state.engine.connect() as connection:
        for statement in ("UPDATE audit_log SET actor_name = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()
    assert int((await client.get("/audit")).headers["x-total-count"]) >= 2


async def test_programmes_group_the_report_and_xlsx_has_a_sheet_per_table(
    client: httpx.AsyncClient, school: int
) -> None:
    electricity = await created(
        await client.post("/programmes", json={"name": "Elektrība", "stem_area": "science"})
    )
    duplicate = await client.post("/programmes", json={"name": "Elektrība"})
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "programme_exists")
    bad = await client.post("/programmes", json={"name": "X", "grade_min": 9, "grade_max": 3})
    assert bad.status_code == 422
    await plan(
        client,
        school,
        NOW - timedelta(days=4),
        programme_ids=[electricity["id"]],
        pupils=18,
        grades=[5, 6],
    )
    await plan(client, school, NOW - timedelta(days=6), pupils=7, grades=[5, 10])
    by_programme = (await client.get("/reports/usage", params={"group_by": "programme"})).json()
    assert [(r["label"], r["field_trips_held"]) for r in by_programme["rows"]] == [
        ("Elektrība", 1),
        ("none", 1),
    ]
    assert by_programme["note"]
    bands = (await client.get("/reports/usage", params={"group_by": "grade_band"})).json()
    assert [(r["key"], r["pupil_participations"]) for r in bands["rows"]] == [
        ("4-6", 18),
        ("mixed", 7),
    ]
    response = await client.get("/reports/funder", params={"format": "xlsx"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "summary",
        "regions",
        "municipalities",
        "programmes",
        "exhibits",
        "visits",
        "not_counted",
    ]
    summary = {row[0]: row[2] for row in book["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["field_trips_held"] == 2
    assert summary["time_zone"] == "Europe/Riga"
    visits = list(book["visits"].iter_rows(values_only=True))
    assert visits[0][:4] == ("visit_id", "status", "status_reason", "starts_at")
    assert isinstance(visits[1][3], datetime)  # a real spreadsheet date, local wall time
