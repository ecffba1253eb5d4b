"""Helpers for the page tests: log in through the login form, read CSRF tokens and
the JSON a page hands to its charts."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import T0, beat, counts, iso, mixed, record, session, status

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def log_in(client: httpx.AsyncClient, token: str) -> str:
    """Log in with ``token`` through the form; return the session's CSRF token."""
    response = await client.post("/ui/login", data={"token": token, "next": "/ui/"})
    assert response.status_code == 303, response.text
    page = await client.get("/ui/")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def chart_data(html: str, chart_id: str) -> dict[str, Any]:
    """The JSON a page gives Chart.js for ``<canvas id=chart_id>``."""
    found = re.search(
        rf'<script type="application/json" id="{re.escape(chart_id)}-data">(.*?)</script>',
        html,
        re.DOTALL,
    )
    assert found is not None, f"no data for chart {chart_id}"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def data_value(html: str, element_id: str) -> str:
    """The raw ``data-value`` of the number shown in element ``element_id`` (on it, or on
    the ``<span>`` right inside it)."""
    name = re.escape(element_id)
    own = re.search(rf'id="{name}"[^>]*?data-value="([^"]*)"', html)
    inner = re.search(rf'id="{name}"[^>]*>\s*<span data-value="([^"]*)"', html)
    found = own or inner
    assert found is not None, f"no data-value in element {element_id}"
    return found.group(1)


async def seed_visit(client: httpx.AsyncClient, engine: Engine) -> int:
    """Two exhibits, a school and a three-hour visit at T0 with counts, a session and a
    gap (exhibit ex-2 never sent seq 1); return the visit's id. ``client`` is an admin's."""
    for exhibit_id, name in (("ex-1", "Gravity well"), ("ex-2", "Light table")):
        response = await client.post("/exhibits", json={"id": exhibit_id, "name": name})
        assert response.status_code == 201, response.text
    school = await client.post(
        "/schools",
        json={"name": "Cēsu skola", "municipality": "Cēsu novads", "region": "Vidzeme"},
    )
    visit = await client.post(
        "/visits",
        json={
            "school_id": school.json()["id"],
            "starts_at": iso(T0),
            "ends_at": iso(T0 + timedelta(hours=3)),
            "exhibit_ids": ["ex-1", "ex-2"],
            "pupils": 24,
        },
    )
    assert visit.status_code == 201, visit.text
    write_batch(
        engine,
        [
            mixed(
                "ex-1",
                record(1, count=1234),
                record(2, count=7, minute=70),
                session(3, minute=1, dwell_s=42.5),
            ),
            counts("ex-2", record(2, input="motion", count=3, minute=5)),
            status("ex-1"),
            beat("ex-1", outbox_depth=0, cpu_temp_c=48.5),
        ],
    )
    return int(visit.json()["id"])
