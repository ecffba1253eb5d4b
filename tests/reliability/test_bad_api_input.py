"""Hostile input to the running fleet API from outside, on SQLite and PostgreSQL (issue 15).

The acceptance run's cases, over HTTP against ``python -m fleet_api serve``: a NUL in any
text field was a 500 on PostgreSQL only (its text refuses NUL), a bare number was read as
a date-time (``/visits?to=0.5`` answered 200, ``/reports/funder?to=0.5`` reported from
1970), and the schema allowed what validation refused (``region: null``, whitespace-only
names, duplicate inputs). Each is a precise 422 now, the schema says so, nothing is
stored, and the API answers normally afterwards. (schemathesis from outside, with every
check, is ``tests/fleet_api/test_schemathesis_live.py``.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulator.databases import Backend
from tests.reliability.bad_input import TOKEN, Fleet, running_fleet

CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x9f", "\ud800"]
"""NUL, a C0 control, escape, DEL, a C1 control and a lone surrogate."""


@pytest.fixture(scope="module")
def fleet(backend_module: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with running_fleet(backend_module, tmp_path_factory.mktemp(f"api-{backend_module}")) as f:
        yield f


def send(fleet: Fleet, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
    """A request with the admin token; the body as ASCII JSON (lone surrogates escaped)."""
    return httpx.request(
        method,
        f"{fleet.api.url}{path}",
        params=params,
        content=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )


def refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    detail: str = response.json()["detail"]
    assert detail.startswith(field), detail
    return detail


def test_a_control_character_in_any_text_field_is_a_422_not_a_500(fleet: Fleet) -> None:
    school = send(fleet, "POST", "/schools", {"name": "Skola", "municipality": "Rīga"})
    assert school.status_code == 201, school.text
    school_id = school.json()["id"]
    visit_body = {
        "school_id": school_id,
        "starts_at": "2026-05-04T08:00:00Z",
        "ends_at": "2026-05-04T14:00:00Z",
        "exhibit_ids": ["good-1"],
    }
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/schools", {"name": "Skola", "municipality": "Rīga"}, "name"),
        ("POST", "/schools", {"name": "Skola", "municipality": "Rīga"}, "address"),
        ("PATCH", f"/schools/{school_id}", {}, "name"),
        ("POST", "/exhibits", {"id": "new-1", "name": "Lens"}, "name"),
        ("POST", "/exhibits", {"id": "new-1", "name": "Lens"}, "notes"),
        ("POST", "/visits", visit_body, "staff"),
        ("POST", "/visits", visit_body, "notes"),
        ("POST", "/tokens", {"role": "viewer"}, "name"),
        ("POST", "/programmes", {"name": "Forces"}, "description"),
    ]
    for method, path, body, field in cases:
        for char in CONTROLS:
            answer = send(fleet, method, path, body | {field: f"a{char}b"})
            refused(answer, f"body.{field}: U+{ord(char):04X} at position 1")
    for path in ("/exhibits/a%00b", "/places/a%00b"):
        assert send(fleet, "GET", path).status_code == 422
    refused(send(fleet, "GET", "/audit", entity_id="a\x00b"), "query.entity_id: U+0000")
    # Nothing of it was stored, and the API still answers.
    names = [s["name"] for s in send(fleet, "GET", "/schools").json()]
    assert names == ["Skola"]
    assert send(fleet, "GET", "/visits").json() == []


@pytest.mark.parametrize("path", ["/visits", "/reports/funder", "/quarantine", "/audit"])
def test_a_bare_number_is_no_date_time(fleet: Fleet, path: str) -> None:
    for value in ("0.5", "1714809600", "2026-05-04", "2026-05-04T08:00:00"):
        refused(send(fleet, "GET", path, to=value), "query.to: a date-time must be RFC 3339")
    assert send(fleet, "GET", path, to="2026-05-04T08:00:00+03:00").status_code == 200


def test_the_schema_states_what_validation_refuses(fleet: Fleet) -> None:
    school = send(fleet, "POST", "/schools", {"name": "Otra", "municipality": "Rīga"}).json()
    refused(send(fleet, "PATCH", f"/schools/{school['id']}", {"region": None}), "body: region")
    for blank in (" ", "\u00a0", "\t"):
        answer = send(fleet, "POST", "/schools", {"name": blank, "municipality": "Rīga"})
        refused(answer, "body.name: ")
    duplicate = {"id": "dup-1", "name": "Dup", "inputs": ["button", "button"]}
    refused(send(fleet, "POST", "/exhibits", duplicate), "body.inputs: inputs lists button")
    schemas = send(fleet, "GET", "/openapi.json").json()["components"]["schemas"]
    assert "null" not in json.dumps(schemas["SchoolUpdate"]["properties"]["region"])
    assert schemas["ExhibitCreate"]["properties"]["inputs"]["uniqueItems"] is True
    assert "pattern" in schemas["SchoolCreate"]["properties"]["name"]
