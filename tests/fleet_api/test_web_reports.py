"""Funder report, schools and regions pages: the same numbers as the API's reports, and
CSV downloads byte for byte the API's."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import beat
from tests.fleet_api.tokens import ADMIN_TOKEN
from tests.fleet_api.web_client import chart_data, log_in, seed_visit

# Local days 2026-01-01..2026-12-31 in Riga are these UTC instants.
API_PERIOD = {"from": "2025-12-31T22:00:00Z", "to": "2026-12-31T22:00:00Z"}
PAGE_PERIOD = "from=2026-01-01&to=2026-12-31"


@pytest.mark.parametrize("table", ["summary", "regions", "municipalities", "exhibits", "visits"])
async def test_funder_csv_download_is_the_apis_csv(
    app: FastAPI,
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    table: str,
) -> None:
    await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    page = await anonymous.get(f"/ui/reports/funder.csv?{PAGE_PERIOD}&table={table}")
    api = await client.get(
        "/reports/funder", params={**API_PERIOD, "format": "csv", "table": table}
    )
    assert page.status_code == api.status_code == 200
    assert page.content == api.content
    assert page.headers["content-disposition"] == api.headers["content-disposition"]
    assert page.headers["content-type"] == "text/csv; charset=utf-8"
    assert len(page.text.splitlines()) >= 2


async def test_funder_page_shows_the_apis_totals_and_chart_data(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    html = (await anonymous.get(f"/ui/reports/funder?{PAGE_PERIOD}")).text
    report = (await client.get("/reports/funder", params=API_PERIOD)).json()
    for name in (
        "field_trips_held",
        "distinct_schools",
        "pupil_participations",
        "teachers_present",
        "programme_deliveries",
        "interactions",
        "sessions",
    ):
        shown = html.split(f'data-field="{name}">')[1]
        assert shown.startswith(f'<span data-value="{report["totals"][name]}"'), name
    exhibits = chart_data(html, "funder-exhibits")
    assert exhibits["labels"] == [row["name"] for row in report["exhibits"]]
    assert exhibits["datasets"][0]["data"] == [row["interactions"] for row in report["exhibits"]]
    regions = chart_data(html, "funder-regions")
    assert regions["datasets"][0]["data"] == [row["interactions"] for row in report["regions"]]
    assert f"/ui/reports/funder.csv?{PAGE_PERIOD.replace('&', '&amp;')}&amp;table=visits" in html
    # Without a period the page shows this year; "All time" is an empty from.
    assert "This year" in (await anonymous.get("/ui/reports/funder")).text
    everything = (await anonymous.get("/ui/reports/funder?from=")).text
    assert "All visits." in everything
    printable = await anonymous.get(f"/ui/reports/funder/print?{PAGE_PERIOD}")
    assert printable.status_code == 200
    for indicator in report["indicators"]:
        assert f'data-key="{indicator["key"]}"' in printable.text
    assert "Field trips held" in printable.text
    assert indicator["definition"] in printable.text


async def test_latvian_downloads_have_latvian_headers_and_the_same_values(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    english = await anonymous.get(f"/ui/reports/funder.csv?{PAGE_PERIOD}&table=visits&lang=en")
    latvian = await anonymous.get(f"/ui/reports/funder.csv?{PAGE_PERIOD}&table=visits&lang=lv")
    assert english.status_code == latvian.status_code == 200
    en_lines, lv_lines = english.text.splitlines(), latvian.text.splitlines()
    assert en_lines[1:] == lv_lines[1:]
    assert en_lines[0].startswith("\ufeffvisit_id,status")
    assert "Skola" in lv_lines[0]
    assert "visit_id" not in lv_lines[0]
    book = await anonymous.get(f"/ui/reports/funder.xlsx?{PAGE_PERIOD}&lang=lv")
    assert book.status_code == 200
    assert book.headers["content-disposition"] == (
        'attachment; filename="funder-20260101-20261231.xlsx"'
    )


async def test_schools_and_regions_pages_show_the_usage_reports(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    schools = (await anonymous.get("/ui/schools")).text
    by_school = (await client.get("/reports/usage", params={"group_by": "school"})).json()
    chart = chart_data(schools, "school-chart")
    assert chart["labels"] == [row["label"] for row in by_school["rows"]]
    assert chart["datasets"][0]["data"] == [row["interactions"] for row in by_school["rows"]]
    regions = (await anonymous.get("/ui/regions?lang=lv")).text
    by_region = (await client.get("/reports/usage", params={"group_by": "region"})).json()
    chart = chart_data(regions, "region-chart")
    assert chart["labels"] == ["Vidzeme"]
    assert chart["datasets"][0]["data"] == [row["interactions"] for row in by_region["rows"]]
    assert "Lietojums pa pašvaldībām" in regions
    empty = (await anonymous.get("/ui/regions?from=2030-01-01&to=2030-01-31&lang=en")).text
    assert "No visits in this period." in empty


async def test_exhibit_page_shows_its_visits_and_health(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    html = (await anonymous.get("/ui/exhibits/ex-1")).text
    usage = (await client.get(f"/visits/{visit_id}/usage")).json()
    ex1 = next(e for e in usage["exhibits"] if e["exhibit_id"] == "ex-1")
    chart = chart_data(html, "exhibit-visits-chart")
    assert chart["datasets"][0]["data"] == [ex1["total"]]
    assert chart["datasets"][1]["data"] == [ex1["sessions"]]
    assert f'href="/ui/visits/{visit_id}"' in html
    assert "48.5&nbsp;°C" in html
    health = chart_data(html, "health-chart")  # the heartbeat just received
    assert health["datasets"][1]["data"] == [48.5]


async def test_exhibit_page_shows_the_window_it_can_resend_in_both_languages(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await seed_visit(client, app.state.engine)
    write_batch(app.state.engine, [beat("ex-1", retained_from_seq=1200, retained_records=845)])
    await log_in(anonymous, ADMIN_TOKEN)
    english = (await anonymous.get("/ui/exhibits/ex-1?lang=en")).text
    assert "Confirmed records kept for a resend" in english
    assert 'data-field="retained-records"><span data-value="845">' in english
    assert 'data-field="retained-from"><span data-value="1200">' in english
    latvian = (await anonymous.get("/ui/exhibits/ex-1?lang=lv")).text
    assert "Vecākā glabātā ieraksta kārtas numurs" in latvian
    assert 'data-field="retained-from"><span data-value="1200">' in latvian
