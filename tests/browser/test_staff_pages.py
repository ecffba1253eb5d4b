"""A staff member's day in Debian's Chromium: create a school and a visit, check the
exhibits out, let real agents count real (simulated) visitors, and see on the visit page
exactly the numbers and chart data the API gives; then in Latvian; then the funder CSV.

Everything real: Mosquitto, the API as a child process, the agents of ``exhibit-sim run``
publishing through the broker into ingestion. Screenshots of every page go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from broker.mosquitto import MosquittoProcess
from simulator.cli import main as sim
from tests.browser.pages import (
    RIGA,
    Console,
    api,
    chart,
    local_input,
    new_token,
    register_exhibits,
    shoot,
    utc_midnight,
)
from tests.e2e.conftest import TOKEN, ApiFactory
from tests.e2e.conftest import fleet_api as fleet_api  # the shared fixture

EXHIBITS = ("sim-001", "sim-002", "sim-003")


def _run_visitors(base: str, broker: str, visit_id: int, tmp_path: Path) -> None:
    """Real agents count seeded visitors for the visit, then the fleet has every count."""
    ledger = tmp_path / "ledger.jsonl"
    common = ["--api", base, "--ledger", str(ledger), "--token", TOKEN]
    run = [
        "run",
        *common,
        "--broker",
        broker,
        "--exhibits",
        str(len(EXHIBITS)),
        "--visit-id",
        str(visit_id),
        "--seed",
        "5",
        "--duration",
        "6",
        "--mean-gap",
        "0.25",
        "--bucket-seconds",
        "2",
        "--data-dir",
        str(tmp_path / "agents"),
    ]
    assert sim(run) == 0
    assert sim(["verify", *common, "--wait", "30"]) == 0


def _shown_number(page: Any, selector: str) -> str:
    value: str = page.locator(f"{selector} [data-value]").first.get_attribute("data-value")
    return value


def test_a_visit_from_planning_to_the_funder_csv(
    chromium: Any,
    mosquitto: MosquittoProcess,
    fleet_api: ApiFactory,
    screenshot_dir: Path,
    tmp_path: Path,
) -> None:
    broker = f"mqtt://127.0.0.1:{mosquitto.port}"
    base = fleet_api(broker)
    register_exhibits(base, *EXHIBITS)
    staff = new_token(base, "staff", "Anna Bērziņa")
    context = chromium.new_context(
        base_url=base,
        locale="en-GB",
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = Console()
    console.watch(page)
    try:
        # Log in with the staff token.
        page.goto("/ui/")
        expect(page).to_have_url(re.compile(r"/ui/login\?next="))
        shoot(page, screenshot_dir, "login")
        page.get_by_label("API token").fill(staff)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(page.get_by_text("Anna Bērziņa (staff)")).to_be_visible()

        # A school, then a visit to it taking every exhibit.
        page.get_by_role("link", name="Schools", exact=True).click()
        page.get_by_role("link", name="Add a school").click()
        page.get_by_label("Name", exact=True).fill("Cēsu Valsts ģimnāzija")
        page.get_by_label("Municipality", exact=True).select_option(label="Cēsu novads")
        page.get_by_label("urban", exact=True).check()
        shoot(page, screenshot_dir, "school-form")
        page.get_by_role("button", name="Add school").click()
        expect(page.get_by_text("The school has been added.")).to_be_visible()
        page.get_by_role("link", name="Plan a visit to it").click()
        expect(page.get_by_label("School", exact=True)).to_have_value(re.compile(r"^\d+$"))
        now = datetime.now(UTC)
        page.get_by_label("Starts", exact=True).fill(local_input(now - timedelta(minutes=10)))
        page.get_by_label("Ends", exact=True).fill(local_input(now + timedelta(minutes=50)))
        for exhibit_id in EXHIBITS:
            page.get_by_label(f"Simulated exhibit {exhibit_id}").check()
        page.get_by_label("Pupils taking part").fill("25")
        page.get_by_label("Teachers present").fill("2")
        page.get_by_label("Staff member").fill("Anna Bērziņa")
        shoot(page, screenshot_dir, "visit-form")
        page.get_by_role("button", name="Create visit").click()
        expect(page.get_by_text("The visit has been created.")).to_be_visible()
        visit_id = int(re.search(r"/ui/visits/(\d+)", page.url).group(1))  # type: ignore[union-attr]

        # Check the exhibits out (htmx swaps the panel in place).
        page.get_by_role("button", name="Check exhibits out").click()
        expect(
            page.get_by_text("The exhibits have been told they are on this visit.")
        ).to_be_visible()
        with api(base) as client:
            assert client.get(f"/visits/{visit_id}").json()["checked_out_at"] is not None

        _run_visitors(base, broker, visit_id, tmp_path)

        # The visit page shows exactly what the API says.
        page.reload()
        with api(base) as client:
            usage = client.get(f"/visits/{visit_id}/usage").json()
        assert usage["total"] >= 20, "the run must exercise the path with real volume"
        assert int(_shown_number(page, "#total-interactions")) == usage["total"]
        assert int(_shown_number(page, "#total-sessions")) == usage["sessions"]
        assert float(_shown_number(page, "#per-pupil")) == usage["interactions_per_pupil"]
        expect(page.locator("#total-interactions")).to_have_text(f"{usage['total']:,}")
        for exhibit in usage["exhibits"]:
            row = page.locator(f'tr[data-exhibit="{exhibit["exhibit_id"]}"]')
            assert int(_shown_number(row, '[data-field="total"]')) == exhibit["total"]
            assert int(_shown_number(row, '[data-field="sessions"]')) == exhibit["sessions"]
        bars = chart(page, "exhibit-chart")
        assert bars["labels"] == [f"Simulated exhibit {e}" for e in EXHIBITS]
        assert bars["datasets"][0]["data"] == [e["total"] for e in usage["exhibits"]]
        assert bars["datasets"][1]["data"] == [e["sessions"] for e in usage["exhibits"]]
        timeline = chart(page, "timeline-chart")
        assert timeline["datasets"][0]["data"] == [h["count"] for h in usage["timeline"]]
        assert timeline["datasets"][1]["data"] == [h["sessions"] for h in usage["timeline"]]
        assert sum(timeline["datasets"][0]["data"]) == usage["total"]
        expect(page.locator("#data-in-progress")).to_be_visible()
        shoot(page, screenshot_dir, "visit-en")

        # The same page in Latvian: labels translated, numbers unchanged.
        page.get_by_role("link", name="Latviešu").click()
        expect(page.locator("html")).to_have_attribute("lang", "lv")
        expect(page.get_by_role("heading", name="Lietojums", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Izsniegt eksponātus")).to_be_visible()
        expect(page.locator("#total-interactions").locator("..")).to_contain_text("Mijiedarbības")
        latvian = chart(page, "exhibit-chart")
        assert latvian["datasets"][0]["label"] == "Mijiedarbības"
        assert latvian["datasets"][0]["data"] == bars["datasets"][0]["data"]
        shoot(page, screenshot_dir, "visit-lv")
        page.get_by_role("link", name="Pārskats").click()
        expect(page.get_by_role("heading", name="Pārskats")).to_be_visible()
        expect(page.get_by_role("columnheader", name="Mijiedarbības šodien")).to_be_visible()
        shoot(page, screenshot_dir, "dashboard-lv")
        page.get_by_role("link", name="Izbraukumi", exact=True).click()
        page.get_by_role("link", name="Kalendārs").click()
        expect(page.locator("table.calendar th").first).to_have_text("Pirmd.")
        shoot(page, screenshot_dir, "calendar-lv")
        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")

        # Every other page, in English.
        for name, path in [
            ("dashboard-en", "/ui/"),
            ("visits", "/ui/visits"),
            ("calendar-en", "/ui/visits/calendar"),
            ("schools", "/ui/schools"),
            ("regions", "/ui/regions"),
            ("exhibits", "/ui/exhibits"),
            ("exhibit", f"/ui/exhibits/{EXHIBITS[0]}"),
            ("technician", "/ui/technician"),
        ]:
            page.goto(path)
            expect(page.locator("main h1")).to_be_visible()
            shoot(page, screenshot_dir, name)
        page.goto("/ui/")
        row = page.locator(f'tr[data-exhibit="{EXHIBITS[0]}"]')
        expect(row).to_contain_text("Cēsu Valsts ģimnāzija")
        expect(row).to_contain_text("Offline")  # the run is over: its agents said goodbye

        # Still planned (it has not ended): the funder report does not count it yet.
        page.get_by_role("link", name="Funder report").click()
        expect(page.locator('[data-field="field_trips_held"] [data-value]')).to_have_attribute(
            "data-value", "0"
        )
        # Checking the exhibits in says it was held; the trail says who did what.
        page.goto(f"/ui/visits/{visit_id}")
        page.get_by_role("button", name="Check exhibits in").click()
        expect(page.get_by_text("The exhibits have been told the visit is over.")).to_be_visible()
        page.reload()
        expect(page.locator("#visit-status")).to_have_attribute("data-status", "held")
        history = page.locator("#visit-history")
        for action in ("visit.create", "visit.checkout", "visit.checkin", "visit.held"):
            expect(history.locator(f'tr[data-action="{action}"]')).to_have_count(1)
        shoot(page, screenshot_dir, "visit-history")
        page.goto(f"/ui/visits/{visit_id}?lang=lv")
        expect(page.locator("#visit-history")).to_contain_text("Eksponāti atgriezti")
        shoot(page, screenshot_dir, "visit-history-lv")
        page.goto(f"/ui/visits/{visit_id}?lang=en")

        # The funder report of this year, and its CSV as the API writes it.
        page.get_by_role("link", name="Funder report").click()
        expect(page.locator('[data-field="field_trips_held"] [data-value]')).to_have_attribute(
            "data-value", "1"
        )
        expect(page.locator('[data-field="teachers_present"] [data-value]')).to_have_attribute(
            "data-value", "2"
        )
        shoot(page, screenshot_dir, "funder")
        page.get_by_role("link", name="Printable report (save as PDF)").click()
        expect(page.locator('#print-indicators tr[data-key="field_trips_held"]')).to_contain_text(
            "1"
        )
        page.emulate_media(media="print")
        expect(page.locator("header.site")).to_be_hidden()
        shoot(page, screenshot_dir, "funder-print")
        page.emulate_media(media="screen")
        page.go_back()
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Field trips held (CSV)").click()
        download = download_info.value
        this_year = datetime.now(RIGA).year
        params = {
            "from": utc_midnight(date(this_year, 1, 1)),
            "to": utc_midnight(date(this_year + 1, 1, 1)),
            "format": "csv",
            "table": "visits",
        }
        with api(base) as client:
            expected = client.get("/reports/funder", params=params)
        assert Path(download.path()).read_bytes() == expected.content
        assert download.suggested_filename.startswith("funder-visits-")
        assert f"{visit_id},".encode() in expected.content
    finally:
        context.close()
    assert console.errors == []
