"""Helpers of the page tests in Chromium: the API as a program sees it, tokens, and a
watch on the browser console (a CSP violation or a script error fails a test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import TOKEN

RIGA = ZoneInfo("Europe/Riga")
"""The pages' default display time zone (FLEET_WEB_TIME_ZONE)."""


def api(base: str, token: str = TOKEN) -> httpx.Client:
    """An HTTP client of the API with ``token`` (the bootstrap admin's by default)."""
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def new_token(base: str, role: str, name: str) -> str:
    """A new API token of ``role``, made by the admin."""
    with api(base) as client:
        response = client.post("/tokens", json={"name": name, "role": role})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token


def register_exhibits(base: str, *exhibit_ids: str) -> None:
    """Register exhibits the way a technician does (through the API)."""
    with api(base) as client:
        for exhibit_id in exhibit_ids:
            response = client.post(
                "/exhibits", json={"id": exhibit_id, "name": f"Simulated exhibit {exhibit_id}"}
            )
            assert response.status_code == 201, response.text


def local_input(moment: datetime) -> str:
    """A ``datetime-local`` value in the pages' time zone."""
    return moment.astimezone(RIGA).strftime("%Y-%m-%dT%H:%M")


def utc_midnight(day: date) -> str:
    """The API's ``from``/``to`` for the start of a local day."""
    start = datetime(day.year, day.month, day.day, tzinfo=RIGA).astimezone(UTC)
    return start.isoformat().replace("+00:00", "Z")


@dataclass
class Console:
    """Errors the page reported: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        """Collect ``page``'s errors from now on."""
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))


def shoot(page: Any, directory: Path, name: str) -> None:
    """A full-page screenshot as ``name``.png; it must not be empty."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000, path


def chart(page: Any, canvas_id: str) -> dict[str, Any]:
    """What Chart.js draws in ``<canvas id=canvas_id>``: labels and datasets."""
    data: dict[str, Any] = page.evaluate(
        """(id) => {
            const chart = Chart.getChart(document.getElementById(id));
            return {
                labels: chart.data.labels,
                datasets: chart.data.datasets.map((set) => ({label: set.label, data: set.data})),
            };
        }""",
        canvas_id,
    )
    return data
