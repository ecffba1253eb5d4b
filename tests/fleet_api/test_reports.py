"""Usage rolled up per school, municipality, region, programme, grade band, exhibit and
period, and the funder report, as JSON, CSV (UTF-8, RFC 4180) and XLSX, through the HTTP
API: field trips held only, planned and cancelled visits apart, in the centre's zone."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fleet_api.models.reports import FunderReport, UsageReport
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import T0, counts, iso, mixed, record, session

DAY = 24 * 60
PERIOD = {"from": "2026-05-01T00:00:00Z", "to": "2026-07-01T00:00:00Z"}
# The same bounds as the centre's local days (Europe/Riga, UTC+3 in summer).
LOCAL_PERIOD = {**PERIOD, "first_day": "2026-05-01", "last_day": "2026-07-01"}
SCHOOLS = [
    {
        "name": "Cēsu Valsts ģimnāzija",
        "municipality": "Cēsu novads",
        "region": "Vidzeme",
        "area": "urban",
        "address": "Leona Paegles iela 1, Cēsis",
    },
    {
        "name": 'Skola "Līči", Ogre',
        "municipality": "Ogres novads",
        "region": "Vidzeme",
        "area": "rural",
    },
    {
        "name": "Daugavpils 3. vidusskola",
        "municipality": "Daugavpils",
        "region": "Latgale",
        "area": "urban",
    },
]
EXHIBITS = {"exhibit-001": "Svārsts", "exhibit-002": "Vēja tunelis", "exhibit-003": "Zobrati"}


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
async def visits(app: FastAPI, client: httpx.AsyncClient) -> list[int]:
    for exhibit_id, name in EXHIBITS.items():
        await post(client, "/exhibits", {"id": exhibit_id, "name": name})
    schools = [(await post(client, "/schools", body))["id"] for body in SCHOOLS]
    forces = await post(
        client,
        "/programmes",
        {"name": "Spēks un kustība", "grade_min": 4, "grade_max": 6, "stem_area": "science"},
    )

    async def visit(school: int, day: int, hours: int, exhibits: list[str], **extra: Any) -> int:
        start = T0 + timedelta(days=day)
        body = {
            "school_id": schools[school],
            "starts_at": iso(start),
            "ends_at": iso(start + timedelta(hours=hours)),
            "exhibit_ids": exhibits,
            **extra,
        }
        return int((await post(client, "/visits", body))["id"])

    ids = [
        await visit(0, 0, 6, ["exhibit-001", "exhibit-002"], pupils=25, grades=[4, 5]),
        await visit(1, 16, 4, ["exhibit-001"], programme_ids=[forces["id"]], teachers=2),
        await visit(2, 29, 4, ["exhibit-002", "exhibit-003"], pupils=30),
        await visit(0, 120, 4, ["exhibit-003"], pupils=99),  # September: outside the period
    ]
    write_batch(
        app.state.engine,
        [
            mixed(
                "exhibit-001",
                record(1, count=10, minute=30),
                session(2, minute=31),
                session(3, minute=40),
                record(4, count=7, minute=16 * DAY + 30),
            ),
            counts(
                "exhibit-002", record(1, count=5, minute=60), record(2, count=20, minute=29 * DAY)
            ),
            counts(
                "exhibit-003",
                record(1, count=4, minute=6 * DAY),  # a depot test: no visit
                record(2, count=1, minute=29 * DAY + 10),
                record(3, count=100, minute=120 * DAY),
            ),
        ],
    )
    return ids


async def report(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await client.get(path, params={**PERIOD, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rows_of(body: dict[str, Any], *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(row[f] for f in fields) for row in body["rows"]]


async def test_usage_per_school_municipality_region_and_month(
    client: httpx.AsyncClient, visits: list[int]
) -> None:
    fields = (
        "label",
        "field_trips_held",
        "schools",
        "pupil_participations",
        "interactions",
        "sessions",
    )
    by_school = await report(client, "/reports/usage", group_by="school")
    assert by_school["period"] == LOCAL_PERIOD
    assert by_school["time_zone"] == "Europe/Riga"
    assert set(by_school["definitions"]) >= {"field_trips_held", "pupil_participations"}
    assert rows_of(by_school, *fields) == [
        ("Cēsu Valsts ģimnāzija", 1, 1, 25, 15, 2),
        ("Daugavpils 3. vidusskola", 1, 1, 30, 21, 0),
        ('Skola "Līči", Ogre', 1, 1, 0, 7, 0),
    ]
    assert by_school["rows"][0]["municipality"] == "Cēsu novads"
    by_municipality = await report(client, "/reports/usage", group_by="municipality")
    assert rows_of(by_municipality, "key", "label", "region", "interactions") == [
        ("LV-022", "Cēsu novads", "Vidzeme", 15),
        ("LV-DGV", "Daugavpils", "Latgale", 21),
        ("LV-067", "Ogres novads", "Vidzeme", 7),
    ]
    by_region = await report(client, "/reports/usage", group_by="region")
    assert rows_of(by_region, *fields) == [
        ("Latgale", 1, 1, 30, 21, 0),
        ("Vidzeme", 2, 2, 25, 22, 2),
    ]
    by_month = await report(client, "/reports/usage", group_by="month")
    assert rows_of(by_month, "key", "field_trips_held", "interactions") == [
        ("2026-05", 2, 22),
        ("2026-06", 1, 21),
    ]
    everything = (await client.get("/reports/usage", params={"group_by": "month"})).json()
    assert rows_of(everything, "key", "interactions")[-1] == ("2026-09", 100)


async def test_usage_per_exhibit_shows_what_happened_outside_visits(
    client: httpx.AsyncClient, visits: list[int]
) -> None:
    by_exhibit = await report(client, "/reports/usage", group_by="exhibit")
    assert rows_of(
        by_exhibit, "key", "label", "field_trips_held", "interactions", "unassigned_interactions"
    ) == [
        ("exhibit-001", "Svārsts", 2, 17, 0),
        ("exhibit-002", "Vēja tunelis", 2, 25, 0),
        ("exhibit-003", "Zobrati", 1, 1, 4),
    ]


async def test_the_funder_report(client: httpx.AsyncClient, visits: list[int]) -> None:
    body = await report(client, "/reports/funder")
    assert body["totals"] == {
        "field_trips_held": 3,
        "planned_visits": 0,
        "cancelled_visits": 0,
        "distinct_schools": 3,
        "distinct_municipalities": 3,
        "regions": 2,
        "rural_schools": 1,
        "urban_schools": 2,
        "pupil_participations": 55,
        "visits_without_pupil_count": 1,
        "teachers_present": 2,
        "visits_without_teacher_count": 2,
        "programme_deliveries": 1,
        "distinct_programmes": 1,
        "interactions": 43,
        "sessions": 2,
        "median_dwell_s": 30.0,
    }
    assert [i["key"] for i in body["indicators"]][:2] == ["field_trips_held", "planned_visits"]
    assert all(i["definition"] for i in body["indicators"])
    assert [
        (r["rank"], r["exhibit_id"], r["interactions"], r["field_trips_held"])
        for r in body["exhibits"]
    ] == [
        (1, "exhibit-002", 25, 2),
        (2, "exhibit-001", 17, 2),
        (3, "exhibit-003", 1, 1),
    ]
    assert [
        (r["region"], r["field_trips_held"], r["pupil_participations"]) for r in body["regions"]
    ] == [
        ("Latgale", 1, 30),
        ("Vidzeme", 2, 25),
    ]
    assert [r["municipality"] for r in body["municipalities"]] == [
        "Daugavpils",
        "Cēsu novads",
        "Ogres novads",
    ]
    assert [v["visit_id"] for v in body["visits"]] == visits[:3]
    assert body["visits"][1]["programmes"] == ["Spēks un kustība"]
    assert [(p["name"], p["field_trips_held"]) for p in body["programmes"]] == [
        ("Spēks un kustība", 1)
    ]


def parse_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="funder-')
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets need
    text = response.content.decode("utf-8-sig")
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_funder_csv_tables_keep_latvian_names_and_quote_by_rfc_4180(
    client: httpx.AsyncClient, visits: list[int]
) -> None:
    summary = parse_csv(await client.get("/reports/funder", params={**PERIOD, "format": "csv"}))
    assert summary[0] == ["indicator", "label", "value", "definition"]
    assert summary[1][:3] == ["period_first_day", "First day", "2026-05-01"]
    assert summary[2][:3] == ["period_last_day", "Last day", "2026-07-01"]
    assert summary[3][:3] == ["time_zone", "Time zone", "Europe/Riga"]
    assert summary[4][:3] == ["field_trips_held", "Field trips held", "3"]
    assert "cancelled" in summary[4][3]  # the definition says what is left out

    params = {**PERIOD, "format": "csv", "table": "visits"}
    response = await client.get("/reports/funder", params=params)
    assert b'"Skola ""L\xc4\xab\xc4\x8di"", Ogre"' in response.content  # quoted, UTF-8
    table = parse_csv(response)
    header, rows = table[0], [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert header[:5] == ["visit_id", "status", "status_reason", "starts_at", "ends_at"]
    assert rows[0]["starts_at"] == "2026-05-04T11:00:00+03:00"  # local time, offset stated
    assert [row["school"] for row in rows] == [s["name"] for s in SCHOOLS]
    assert [row["municipality"] for row in rows] == ["Cēsu novads", "Ogres novads", "Daugavpils"]
    assert rows[0]["grades"] == "4 5"
    assert rows[0]["exhibit_ids"] == "exhibit-001 exhibit-002"
    assert (rows[1]["pupils"], rows[1]["area"]) == ("", "rural")  # unknown is empty
    assert rows[2]["interactions"] == "21"

    exhibits = parse_csv(
        await client.get("/reports/funder", params={**PERIOD, "format": "csv", "table": "exhibits"})
    )
    assert exhibits[1][:3] == ["1", "exhibit-002", "Vēja tunelis"]
    assert exhibits[1][-1] == "12.5"  # unformatted: a dot, no grouping
    assert exhibits[0][-1] == "interactions_per_trip"


async def test_usage_csv(client: httpx.AsyncClient, visits: list[int]) -> None:
    response = await client.get(
        "/reports/usage", params={**PERIOD, "group_by": "region", "format": "csv"}
    )
    assert response.headers["content-disposition"] == (
        'attachment; filename="usage-by-region-20260501-20260701.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert rows[0][:2] == ["key", "label"]
    assert [row[1] for row in rows[1:]] == ["Latgale", "Vidzeme"]


# Request validation is the same on both backends: SQLite only keeps the suite quick.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("/reports/usage", {}, "query.group_by: Field required"),
        ("/reports/usage", {"group_by": "planet"}, "query.group_by: Input should be"),
        ("/reports/funder", {"format": "pdf"}, "query.format: Input should be 'json', 'csv' or"),
        ("/reports/funder", {"format": "csv", "table": "x"}, "query.table: Input should be"),
        ("/reports/funder", {"from": "2026-07-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}, "to"),
        ("/reports/funder", {"from": "2026-05-01"}, "query.from"),
    ],
)
async def test_bad_report_parameters_are_422_problems(
    client: httpx.AsyncClient, path: str, params: dict[str, str], detail: str
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]


async def test_an_empty_period_is_an_empty_report(client: httpx.AsyncClient) -> None:
    body = (await client.get("/reports/funder")).json()
    assert body["totals"]["field_trips_held"] == 0
    assert body["totals"]["median_dwell_s"] is None
    assert (body["exhibits"], body["visits"], body["period"]) == (
        [],
        [],
        {"from": None, "to": None, "first_day": None, "last_day": None},
    )
    response = await client.get("/reports/funder", params={"format": "csv"})
    assert response.headers["content-disposition"].endswith('funder-summary-start-now.csv"')
    assert response.text.splitlines()[4].startswith("field_trips_held,Field trips held,0,")


@pytest.mark.parametrize(
    ("path", "params", "model"),
    [
        ("/reports/funder", {}, FunderReport),
        ("/reports/usage", {"group_by": "school"}, UsageReport),
    ],
)
async def test_json_reports_are_exactly_their_documented_model(
    client: httpx.AsyncClient,
    visits: list[int],
    path: str,
    params: dict[str, str],
    model: type[FunderReport | UsageReport],
) -> None:
    response = await client.get(path, params={**PERIOD, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["period"] == LOCAL_PERIOD
    assert model.model_validate(body).model_dump(mode="json", by_alias=True) == body
    document = (await client.get("/openapi.json")).json()
    content = document["paths"][path]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{model.__name__}"
    }
    assert "text/csv; charset=utf-8" in content
