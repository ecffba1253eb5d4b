"""The browser harness itself: Debian's Chromium loads a page of the live fleet API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from broker.mosquitto import MosquittoProcess
from tests.e2e.conftest import ApiFactory
from tests.e2e.conftest import fleet_api as fleet_api  # the shared fixture


def test_chromium_loads_the_live_api(
    chromium: Any, mosquitto: MosquittoProcess, fleet_api: ApiFactory, screenshot_dir: Path
) -> None:
    base = fleet_api(f"mqtt://127.0.0.1:{mosquitto.port}")
    page = chromium.new_page()
    try:
        response = page.goto(f"{base}/healthz")
        assert response is not None
        assert response.status == 200
        health = json.loads(page.inner_text("body"))
        assert health["database"] == "ok"
        page.screenshot(path=str(screenshot_dir / "healthz.png"))
    finally:
        page.close()
    assert (screenshot_dir / "healthz.png").stat().st_size > 1_000
