"""The pages issue 17 added, in Chromium, in both languages: a school placed from the list
of places, a visit delivering a programme, cancelled with a reason and reinstated, its
history from the audit trail, the places page and the printable report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from broker.mosquitto import MosquittoProcess
from tests.browser.pages import Console, api, local_input, new_token, register_exhibits, shoot
from tests.e2e.conftest import ApiFactory
from tests.e2e.conftest import fleet_api as fleet_api  # the shared fixture

WORDS = {
    "en": {
        "add": "Add a school", "municipality": "Municipality", "save": "Add school",
        "added": "The school has been added.", "plan": "Plan a visit to it",
        "create": "Create visit", "reason": "Reason", "cancel": "Cancel the visit",
        "cancelled": "The visit is cancelled. It counts in no report.",
        "undo": "Undo the cancellation", "why": "Why is it taking place after all?",
        "undone": "The cancellation has been undone.", "history": "History",
        "planned": "Visit planned", "cancelled_entry": "Visit cancelled or marked not held",
        "places": "Places", "region": "Latgales plānošanas reģions",
    },
    "lv": {
        "add": "Pievienot skolu", "municipality": "Pašvaldība", "save": "Pievienot skolu",
        "added": "Skola ir pievienota.", "plan": "Plānot izbraukumu uz to",
        "create": "Izveidot izbraukumu", "reason": "Iemesls", "cancel": "Atcelt izbraukumu",
        "cancelled": "Izbraukums ir atcelts. Tas netiek skaitīts nevienā pārskatā.",
        "undo": "Atsaukt atcelšanu", "why": "Kāpēc tas tomēr notiek?",
        "undone": "Atcelšana ir atsaukta.", "history": "Vēsture",
        "planned": "Izbraukums ieplānots",
        "cancelled_entry": "Izbraukums atcelts vai atzīmēts kā nenotikušais",
        "places": "Vietas", "region": "Latgales plānošanas reģions",
    },
}  # fmt: skip


@pytest.mark.parametrize("language", ["en", "lv"])
def test_a_placed_school_a_programme_a_cancellation_its_history_and_the_print_page(
    chromium: Any,
    mosquitto: MosquittoProcess,
    fleet_api: ApiFactory,
    screenshot_dir: Path,
    language: str,
) -> None:
    words = WORDS[language]
    base = fleet_api(f"mqtt://127.0.0.1:{mosquitto.port}")
    register_exhibits(base, "np-001")
    with api(base) as client:
        client.post("/programmes", json={"name": "Gaisma un krāsas", "stem_area": "science"})
    staff = new_token(base, "staff", "Ilze Kalniņa")
    context = chromium.new_context(base_url=base, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = Console()
    console.watch(page)
    try:
        page.goto(f"/ui/login?lang={language}")
        page.locator("#token").fill(staff)
        page.locator("form button[type=submit]").click()
        page.goto("/ui/schools/new")
        expect(page.get_by_role("heading", level=1, name=words["add"])).to_be_visible()
        page.locator("#name").fill("Rēzeknes 5. vidusskola")
        # The place comes from a list grouped by region: no free text.
        municipality = page.get_by_label(words["municipality"], exact=True)
        expect(municipality.locator("optgroup[label='Latgale'] option")).to_have_count(9)
        municipality.select_option(label="Rēzekne")
        page.get_by_role("button", name=words["save"]).click()
        expect(page.get_by_text(words["added"])).to_be_visible()
        page.get_by_role("link", name=words["plan"]).click()
        start = datetime.now(UTC) + timedelta(days=7)
        page.locator("#starts_at").fill(local_input(start))
        page.locator("#ends_at").fill(local_input(start + timedelta(hours=4)))
        page.get_by_label("Simulated exhibit np-001").check()
        page.get_by_label("Gaisma un krāsas").check()
        page.get_by_role("button", name=words["create"]).click()
        expect(page.locator("#visit-status")).to_have_attribute("data-status", "planned")
        expect(page.get_by_text("Gaisma un krāsas")).to_be_visible()

        page.locator("#status-change summary").click()
        page.get_by_label(words["reason"], exact=True).fill("Skolā gripa")
        page.locator("#cancel-button").click()
        expect(page.get_by_text(words["cancelled"])).to_be_visible()
        expect(page.locator("#visit-status")).to_have_attribute("data-status", "cancelled")
        history = page.locator("h2", has_text=words["history"]).locator("xpath=following::table[1]")
        expect(history.get_by_text(f"{words['cancelled_entry']}: Skolā gripa")).to_be_visible()
        expect(history.get_by_text("Ilze Kalniņa").first).to_be_visible()
        expect(history.get_by_text(words["planned"])).to_be_visible()
        shoot(page, screenshot_dir, f"visit-cancelled-{language}")
        expect(page.locator("#status-change summary")).to_have_text(words["undo"])
        page.locator("#status-change summary").click()
        page.get_by_label(words["why"]).fill("Skola atveseļojās")
        page.locator("#reinstate-button").click()
        expect(page.get_by_text(words["undone"])).to_be_visible()
        expect(page.locator("#visit-status")).to_have_attribute("data-status", "planned")

        page.get_by_role("link", name=words["places"], exact=True).click()
        expect(page.get_by_role("heading", level=2, name=words["region"])).to_be_visible()
        expect(page.get_by_role("row", name="Rēzekne").first).to_contain_text("LV-REZ")
        shoot(page, screenshot_dir, f"places-{language}")

        year = datetime.now(UTC).year
        page.goto(f"/ui/reports/funder/print?from={year}-01-01&to={year}-12-31")
        # The print stylesheet hides the menu and the forms: what a PDF keeps.
        page.emulate_media(media="print")
        expect(page.locator("header.site")).to_be_hidden()
        expect(page.locator("table").first).to_be_visible()
        page.emulate_media(media="screen")
        shoot(page, screenshot_dir, f"funder-print-{language}")
    finally:
        context.close()
    assert console.errors == []
