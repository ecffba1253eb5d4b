"""Keyboard only through a main task (log in, add a school, plan a visit, check its
exhibits out) with visible focus at every step; and /docs rendering every operation with
no network beyond the API itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from broker.mosquitto import MosquittoProcess
from tests.browser.pages import Console, api, new_token, register_exhibits, shoot
from tests.e2e.conftest import ApiFactory
from tests.e2e.conftest import fleet_api as fleet_api  # the shared fixture

# Focus shows as our outline. One exception: the calendar button inside a date field is
# the browser's own part (the field no longer matches :focus); Chromium draws its own
# ring around it, which no style of the page can change or read.
FOCUS = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    const pickerButton = element.type === "datetime-local" && !element.matches(":focus");
    const ring = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
    return {
        text: (element.innerText || element.value || element.id || "").trim(),
        tag: element.tagName,
        id: element.id,
        visible: pickerButton || ring,
        onScreen: box.bottom > 0 && box.right > 0 && box.width > 0,
    };
}"""


def tab_to(page: Any, wanted: str, *, limit: int = 60) -> None:
    """Press Tab until the focused element's text (or id) is ``wanted``; focus must show."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        assert focus["visible"], f"no visible focus on {focus}"
        if wanted in (focus["text"], focus["id"]):
            assert focus["onScreen"], focus
            return
        seen.append(focus["text"] or focus["tag"])
    raise AssertionError(f"Tab never reached {wanted!r}; went through {seen}")


def press_enter_and_see(page: Any, heading: str) -> None:
    """Enter on the focused link or field, then wait for the next page's heading."""
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()


def test_keyboard_only_from_login_to_checked_out_exhibits(
    chromium: Any, mosquitto: MosquittoProcess, fleet_api: ApiFactory, screenshot_dir: Path
) -> None:
    base = fleet_api(f"mqtt://127.0.0.1:{mosquitto.port}")
    register_exhibits(base, "kb-001")
    staff = new_token(base, "staff", "Keyboard user")
    context = chromium.new_context(base_url=base, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = Console()
    console.watch(page)
    try:
        page.goto("/ui/login")
        # The token field has the focus from the start.
        assert page.evaluate(FOCUS)["id"] == "token"
        page.keyboard.type(staff)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

        # The first Tab shows the skip link; Enter on it moves focus to the content.
        tab_to(page, "Skip to content", limit=1)
        shoot(page, screenshot_dir, "keyboard-skip-link")
        page.keyboard.press("Enter")
        assert page.evaluate(FOCUS)["id"] == "main"

        page.goto("/ui/")
        tab_to(page, "Schools")
        press_enter_and_see(page, "Schools")
        tab_to(page, "Add a school")
        press_enter_and_see(page, "Add a school")
        tab_to(page, "name")
        page.keyboard.type("Siguldas pamatskola")
        tab_to(page, "municipality", limit=1)
        page.keyboard.type("Siguldas novads")  # a list: typing picks the place
        expect(page.locator("#municipality")).to_have_value("LV-091")
        tab_to(page, "address", limit=1)
        page.keyboard.type("Skolas iela 1, Sigulda")
        shoot(page, screenshot_dir, "keyboard-school-form")
        press_enter_and_see(page, "Schools")
        expect(page.get_by_text("The school has been added.")).to_be_visible()

        tab_to(page, "Plan a visit to it")
        press_enter_and_see(page, "New visit")
        tab_to(page, "kb-001")  # the exhibit's checkbox
        page.keyboard.press("Space")
        expect(page.get_by_label("Simulated exhibit kb-001")).to_be_checked()
        tab_to(page, "Create visit")
        press_enter_and_see(page, "Visit to Siguldas pamatskola")
        expect(page.get_by_text("The visit has been created.")).to_be_visible()

        tab_to(page, "Check exhibits out")
        page.keyboard.press("Enter")
        expect(
            page.get_by_text("The exhibits have been told they are on this visit.")
        ).to_be_visible()
        shoot(page, screenshot_dir, "keyboard-checked-out")
        with api(base) as client:
            (visit,) = client.get("/visits").json()
        assert visit["exhibit_ids"] == ["kb-001"]
        assert visit["checked_out_at"] is not None
    finally:
        context.close()
    assert console.errors == []


def test_docs_render_every_operation_without_any_outside_request(
    chromium: Any, mosquitto: MosquittoProcess, fleet_api: ApiFactory, screenshot_dir: Path
) -> None:
    base = fleet_api(f"mqtt://127.0.0.1:{mosquitto.port}")
    with api(base) as client:
        schema = client.get("/openapi.json").json()
    expected = sum(
        len(operation.get("tags") or ["default"])
        for methods in schema["paths"].values()
        for operation in methods.values()
    )
    context = chromium.new_context(base_url=base)
    outside: list[str] = []

    def only_the_api(route: Any) -> None:
        # As in a school depot with no internet: anything not from the API fails.
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_api)
    page = context.new_page()
    console = Console()
    console.watch(page)
    try:
        page.goto("/docs")
        expect(page.locator(".opblock").first).to_be_visible()
        expect(page.locator(".opblock")).to_have_count(expected)
        expect(page.get_by_text("Exhibit fleet API", exact=False).first).to_be_visible()
        shoot(page, screenshot_dir, "docs")
    finally:
        context.close()
    assert outside == []
    assert console.errors == []
