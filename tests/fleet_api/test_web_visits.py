"""Visit pages: the numbers and chart data equal the API's; forms create and change visits
and schools the way the API would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from babel.numbers import format_decimal
from fastapi import FastAPI

from broker.messages import CountRecord
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import counts, iso
from tests.fleet_api.tokens import ADMIN_TOKEN
from tests.fleet_api.web_client import chart_data, csrf_of, data_value, log_in, seed_visit

RIGA = ZoneInfo("Europe/Riga")


async def test_visit_page_numbers_and_charts_equal_the_api(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    html = (await anonymous.get(f"/ui/visits/{visit_id}")).text
    usage = (await client.get(f"/visits/{visit_id}/usage")).json()

    assert usage["total"] == 1244
    assert int(data_value(html, "total-interactions")) == usage["total"]
    assert int(data_value(html, "total-sessions")) == usage["sessions"]
    assert float(data_value(html, "median-dwell")) == usage["median_dwell_s"]
    assert float(data_value(html, "per-pupil")) == usage["interactions_per_pupil"]
    assert ">1,244<" in html  # shown formatted for the reader

    bars = chart_data(html, "exhibit-chart")
    assert bars["labels"] == ["Gravity well", "Light table"]
    assert bars["datasets"][0]["data"] == [e["total"] for e in usage["exhibits"]]
    assert bars["datasets"][1]["data"] == [e["sessions"] for e in usage["exhibits"]]
    timeline = chart_data(html, "timeline-chart")
    assert timeline["datasets"][0]["data"] == [h["count"] for h in usage["timeline"]]
    assert timeline["datasets"][1]["data"] == [h["sessions"] for h in usage["timeline"]]
    hours = [datetime.fromisoformat(h["hour"]).astimezone(RIGA) for h in usage["timeline"]]
    assert timeline["labels"] == [f"{h:%H}:00" for h in hours]
    assert timeline["labels"][0] == "11:00"  # 08:00 UTC is 11:00 in Riga in May

    # ex-2 never sent seq 1: its data has a gap, and the page says so plainly.
    assert usage["data_status"] == "incomplete"
    assert 'id="data-warning"' in html
    assert "The data of this visit is not complete yet" in html
    assert "<strong>Light table</strong>: 1 record is missing (a gap in its data)." in html


async def test_visit_page_in_latvian_formats_numbers_and_dates_for_latvian(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    html = (await anonymous.get(f"/ui/visits/{visit_id}?lang=lv")).text
    assert '<html lang="lv" data-locale="lv-LV">' in html
    assert f">{format_decimal(1244, locale='lv_LV')}<" in html
    assert "1\N{NO-BREAK SPACE}244" in html
    assert "Šī izbraukuma dati vēl nav pilnīgi" in html
    assert "2026. gada 4. maijs" in html or "2026. gada 4. maijā" in html or "4. maijs" in html
    assert "Mijiedarbības" in chart_data(html, "exhibit-chart")["datasets"][0]["label"]


async def test_staff_create_a_school_and_a_visit_through_the_forms(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await client.post("/exhibits", json={"id": "ex-1", "name": "Gravity well"})
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    created = await anonymous.post(
        "/ui/schools/new",
        data={
            "csrf_token": csrf,
            "name": "Valmieras skola",
            "municipality": "LV-113",
            "area": "rural",
            "address": "",
        },
    )
    assert created.status_code == 303
    (school,) = (await client.get("/schools")).json()
    assert school == {
        "id": school["id"],
        "name": "Valmieras skola",
        "municipality": "Valmieras novads",
        "region": "Vidzeme",
        "municipality_code": "LV-113",
        "region_code": "LV:PR:VIDZEME",
        "statistical_region_code": "LV00C",
        "place_mapped": True,
        "address": None,
        "area": "rural",
        "archived_at": None,
    }
    assert created.headers["location"] == f"/ui/schools?notice=created&school={school['id']}"

    form = {
        "csrf_token": csrf,
        "school_id": str(school["id"]),
        "starts_at": "2026-05-04T09:30",
        "ends_at": "2026-05-04T13:00",
        "exhibit_ids": ["ex-1"],
        "grades": ["4", "5"],
        "pupils": "",
        "staff": "Anna",
        "teachers": "2",
        "notes": "",
    }
    response = await anonymous.post("/ui/visits/new", data=form)
    assert response.status_code == 303, response.text
    (visit,) = (await client.get("/visits")).json()
    assert response.headers["location"] == f"/ui/visits/{visit['id']}?notice=created"
    # Local Riga time (UTC+3 in May) is stored as UTC.
    assert visit["starts_at"] == "2026-05-04T06:30:00Z"
    assert visit["ends_at"] == "2026-05-04T10:00:00Z"
    assert (visit["exhibit_ids"], visit["grades"], visit["staff"]) == (["ex-1"], [4, 5], "Anna")
    assert visit["pupils"] is None

    # After the visit, staff record the pupils reached.
    edit = await anonymous.get(f"/ui/visits/{visit['id']}/edit")
    assert 'value="2026-05-04T09:30"' in edit.text
    changed = await anonymous.post(
        f"/ui/visits/{visit['id']}/edit",
        data={**form, "csrf_token": csrf_of(edit.text), "pupils": "27"},
    )
    assert changed.status_code == 303
    assert (await client.get(f"/visits/{visit['id']}")).json()["pupils"] == 27


async def test_a_visit_form_with_mistakes_comes_back_with_labelled_errors(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await client.post("/exhibits", json={"id": "ex-1", "name": "Gravity well"})
    school = await client.post(
        "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
    )
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    form = {
        "csrf_token": csrf,
        "school_id": str(school.json()["id"]),
        "starts_at": "2026-05-04T13:00",
        "ends_at": "2026-05-04T09:00",
        "pupils": "many",
        "staff": "Anna",
    }
    response = await anonymous.post("/ui/visits/new", data=form)
    assert response.status_code == 422
    html = response.text
    assert 'role="alert"' in html
    assert 'href="#exhibit_ids">Choose at least one exhibit.</a>' in html
    assert 'href="#pupils">Enter a whole number.</a>' in html
    assert 'id="pupils" name="pupils" type="number" value="many"' in html
    assert 'aria-describedby="pupils-hint pupils-error" aria-invalid="true"' in html
    assert 'value="Anna"' in html  # what was typed is kept
    assert (await client.get("/visits")).json() == []

    fixed = {**form, "pupils": "", "exhibit_ids": ["ex-1"]}
    window = await anonymous.post("/ui/visits/new", data=fixed)
    assert window.status_code == 422
    assert "The end must be after the start" in window.text

    good = {**fixed, "ends_at": "2026-05-04T15:00"}
    assert (await anonymous.post("/ui/visits/new", data=good)).status_code == 303
    clash = await anonymous.post("/ui/visits/new", data=good)
    assert clash.status_code == 422
    # Said in the page's language with the local (Riga) times, not the API's UTC.
    assert "Exhibit ex-1 is already on field trip 1 from 4 May 2026 13:00 to 4 May 2026 15:00." in (
        clash.text.replace("&#39;", "'")
    )
    lv = await anonymous.post("/ui/visits/new?lang=lv", data=good)
    assert "Eksponāts ex-1 jau ir izbraukumā 1 no 2026. gada 4. maija 13:00" in lv.text


async def test_calendar_puts_visits_on_their_local_day_with_localised_names(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    english = (await anonymous.get("/ui/visits/calendar?month=2026-05")).text
    assert "<caption>May 2026</caption>" in english
    assert '<abbr title="Monday">Mon</abbr>' in english
    day = english.split(f'href="/ui/visits/{visit_id}"')[0].rsplit('<span class="day">', 1)[1]
    assert day.startswith("4<")
    latvian = (await anonymous.get("/ui/visits/calendar?month=2026-05&lang=lv")).text
    assert "maijs" in latvian
    assert '<abbr title="Pirmdiena">Pirmd.</abbr>' in latvian
    assert "11:00 Cēsu skola" in latvian
    listed = (await anonymous.get("/ui/visits?month=2026-05")).text
    assert f'href="/ui/visits/{visit_id}"' in listed
    assert '<html lang="lv" data-locale="lv-LV">' in listed  # the choice is remembered
    other_month = (await anonymous.get("/ui/visits?month=2026-06&lang=en")).text
    assert "No visits this month." in other_month


async def test_dashboard_counts_todays_interactions_and_says_where_exhibits_are(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await seed_visit(client, app.state.engine)  # a visit in May: long over
    now = datetime.now(UTC).replace(microsecond=0)
    school = await client.post(
        "/schools", json={"name": "Rīgas skola", "municipality": "Rīga", "region": "Rīga"}
    )
    today = await client.post(
        "/visits",
        json={
            "school_id": school.json()["id"],
            "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(hours=2)),
            "exhibit_ids": ["ex-1"],
        },
    )
    record = CountRecord(
        seq=10,
        input="button",
        start=now - timedelta(seconds=30),
        mono_start=100.0,
        seconds=10.0,
        count=17,
        boot_id="boot-1",
        clock_synced=True,
    )
    write_batch(app.state.engine, [counts("ex-1", record)])
    await log_in(anonymous, ADMIN_TOKEN)
    html = (await anonymous.get("/ui/")).text
    health = (await client.get("/fleet/health")).json()
    assert int(data_value(html, "tile-online")) == health["online"]
    assert int(data_value(html, "tile-offline")) == health["offline"]
    assert int(data_value(html, "tile-today")) == 17
    row = html.split('data-exhibit="ex-1"')[1].split("</tr>")[0]
    assert f'href="/ui/visits/{today.json()["id"]}">Rīgas skola</a>' in row
    other = html.split('data-exhibit="ex-2"')[1].split("</tr>")[0]
    assert "Not on a visit" in other
    assert "1 record is missing." in html  # ex-2's gap is an alert
