"""axe-core (npm ``axe-core``, vendored in ``tests/browser/vendor``) on every staff page in
English and Latvian, in Debian's Chromium: 0 violations is the bar. Each page's transfer
size (compressed bytes over the wire, cold cache) goes to
``test-artifacts/transfer-sizes.json`` for docs/web.md."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from broker.mosquitto import MosquittoProcess
from tests.browser.conftest import ARTIFACTS
from tests.browser.pages import Console, api, register_exhibits
from tests.e2e.conftest import TOKEN, ApiFactory
from tests.e2e.conftest import fleet_api as fleet_api  # the shared fixture

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
# What the browser fetched for the page, compressed, with nothing cached.
TRANSFER = """() => {
    const entries = [...performance.getEntriesByType("navigation"),
                     ...performance.getEntriesByType("resource")];
    return entries.map((e) => ({url: e.name, bytes: e.transferSize, body: e.decodedBodySize}));
}"""


def _seed(base: str) -> dict[str, Any]:
    """A programme, a school, a field trip held, one planned and one cancelled."""
    register_exhibits(base, "ax-001", "ax-002")
    now = datetime.now(UTC).replace(microsecond=0)
    with api(base) as client:
        programme = client.post(
            "/programmes",
            json={
                "name": "Gaisma un krāsas",
                "grade_min": 1,
                "grade_max": 4,
                "stem_area": "science",
            },
        ).json()
        school = client.post(
            "/schools",
            json={"name": "Ludzas pamatskola", "municipality": "LV-058", "area": "rural"},
        ).json()

        def visit(days: int, **extra: Any) -> int:
            body = {
                "school_id": school["id"],
                "starts_at": (now + timedelta(days=days)).isoformat(),
                "ends_at": (now + timedelta(days=days, hours=4)).isoformat(),
                "exhibit_ids": ["ax-001", "ax-002"],
                "programme_ids": [programme["id"]],
                **extra,
            }
            response = client.post("/visits", json=body)
            assert response.status_code == 201, response.text
            visit_id: int = response.json()["id"]
            return visit_id

        held = visit(-3, pupils=24, teachers=2, grades=[3, 4])
        visit(5, pupils=30)
        cancelled = visit(9)
        refused = client.post(f"/visits/{cancelled}/cancel", json={"reason": "Skolā gripa"})
        assert refused.status_code == 200, refused.text
    return {"visit": held, "school": school["id"]}


def _pages(seeded: dict[str, Any]) -> list[str]:
    visit, school = seeded["visit"], seeded["school"]
    return [
        "/ui/",
        "/ui/visits",
        "/ui/visits/calendar",
        f"/ui/visits/{visit}",
        "/ui/visits/new",
        f"/ui/visits/{visit}/edit",
        f"/ui/visits/{visit}/readiness",
        "/ui/schools",
        "/ui/schools/new",
        f"/ui/schools/{school}/edit",
        "/ui/regions",
        "/ui/places",
        "/ui/exhibits",
        "/ui/exhibits/ax-001",
        "/ui/exhibits/ax-001/config",
        "/ui/technician",
        "/ui/reports/funder",
        "/ui/reports/funder/print",
        "/ui/no-such-page",
    ]


def _violations(page: Any) -> list[str]:
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


@pytest.mark.parametrize("language", ["en", "lv"])
def test_every_page_has_no_axe_violation(
    chromium: Any, mosquitto: MosquittoProcess, fleet_api: ApiFactory, language: str
) -> None:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256
    base = fleet_api(f"mqtt://127.0.0.1:{mosquitto.port}")
    seeded = _seed(base)
    # axe is injected as a script of its own: the pages' CSP (script-src 'self') would
    # refuse it, so this context alone bypasses the CSP. Nothing else changes.
    context = chromium.new_context(base_url=base, bypass_csp=True, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    console = Console()
    console.watch(page)
    found: dict[str, list[str]] = {}
    transfers: dict[str, dict[str, int]] = {}
    try:
        page.goto(f"/ui/login?lang={language}")
        found["/ui/login"] = _violations(_with_axe(page))
        # The check can fail: a field without a label is a violation.
        page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input>')")
        assert any(v.startswith("label ") for v in _violations(page))
        page.goto(f"/ui/login?lang={language}")
        page.locator("#token").fill(TOKEN)
        page.locator("form button[type=submit]").click()
        expect(page.locator("h1")).to_be_visible()
        state = context.storage_state()
        for path in _pages(seeded):
            # A context of its own per page: a phone opening it with nothing cached.
            cold = chromium.new_context(base_url=base, bypass_csp=True, storage_state=state)
            fresh = cold.new_page()
            if path != "/ui/no-such-page":  # its own 404 is logged as a failed load
                console.watch(fresh)
            fresh.goto(path)
            fresh.wait_for_load_state("networkidle")
            entries = fresh.evaluate(TRANSFER)
            fresh.reload()  # the second visit: versioned files come from the cache
            fresh.wait_for_load_state("networkidle")
            again = fresh.evaluate(TRANSFER)
            transfers[path] = {
                "cold_transferred": sum(e["bytes"] for e in entries),
                "cold_uncompressed": sum(e["body"] for e in entries),
                "warm_transferred": sum(e["bytes"] for e in again),
                "chart_js": int(any("chart.umd" in e["url"] for e in entries)),
            }
            found[path] = _violations(_with_axe(fresh))
            cold.close()
    finally:
        context.close()
    _write_transfers(language, transfers)
    assert {path: v for path, v in found.items() if v} == {}
    assert console.errors == []
    assert len(found) == 20  # every page was checked


def _with_axe(page: Any) -> Any:
    page.add_script_tag(path=str(AXE))
    return page


def _write_transfers(language: str, transfers: dict[str, dict[str, int]]) -> None:
    ARTIFACTS.parent.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS.parent / "transfer-sizes.json"
    known = json.loads(out.read_text()) if out.exists() else {}
    known[language] = transfers
    out.write_text(json.dumps(known, indent=1, sort_keys=True))
