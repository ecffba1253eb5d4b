"""Hostile and broken input to the HTTP API: a precise 422, never a 500, on both backends.

PostgreSQL's text refuses NUL (psycopg's DataError was a 500) and no database stores a
lone surrogate (JSON can carry ``\\ud800``); SQLite stores both. So every text field is
tried with each kind of forbidden character on SQLite *and* PostgreSQL, a date-time is
RFC 3339 or a 422 (``/visits?to=0.5`` answered 200, ``/reports/funder?to=0.5`` read it
as 1970), and the OpenAPI schema says what validation refuses: patterns, non-nullable
update fields, ``uniqueItems``. The text rules' pattern is held to the validator by
hypothesis over every kind of character.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from fleet_api.models.fields import Notes, Text200, TextRules
from tests.fleet_api.test_api import make_school, post, problem

FORBIDDEN = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800", "\udfff"]
"""NUL, a bell, an escape, DEL, a C1 control (NEL) and lone surrogates."""


async def refused(client: httpx.AsyncClient, method: str, path: str, body: Any) -> str:
    """The 422's detail for ``body`` (sent as ASCII JSON, so lone surrogates travel)."""
    response = await client.request(
        method,
        path,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    detail: str = (await problem(response, 422))["detail"]
    return detail


async def objects(client: httpx.AsyncClient) -> dict[str, int]:
    """A school, an exhibit, a visit and a programme to change."""
    school = await make_school(client)
    await post(client, "/exhibits", {"id": "exhibit-001", "name": "Pendulum"})
    visit = await post(
        client,
        "/visits",
        {
            "school_id": school,
            "starts_at": "2026-05-04T08:00:00Z",
            "ends_at": "2026-05-04T14:00:00+00:00",
            "exhibit_ids": ["exhibit-001"],
        },
    )
    programme = await post(client, "/programmes", {"name": "Forces"})
    return {"school": school, "visit": visit["id"], "programme": programme["id"]}


def _text_fields(ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, body, field) for every text field a client can write."""
    school = {"name": "Skola", "municipality": "Kuldīgas novads"}
    visit = {
        "school_id": ids["school"],
        "starts_at": "2026-05-05T08:00:00Z",
        "ends_at": "2026-05-05T14:00:00Z",
        "exhibit_ids": ["exhibit-001"],
    }
    return [
        ("POST", "/schools", school, "name"),
        ("POST", "/schools", school, "municipality"),
        ("POST", "/schools", school, "region"),
        ("POST", "/schools", school, "address"),
        ("PATCH", f"/schools/{ids['school']}", {}, "name"),
        ("PATCH", f"/schools/{ids['school']}", {}, "address"),
        ("POST", "/exhibits", {"id": "exhibit-009", "name": "Lens"}, "name"),
        ("POST", "/exhibits", {"id": "exhibit-009", "name": "Lens"}, "kind"),
        ("POST", "/exhibits", {"id": "exhibit-009", "name": "Lens"}, "notes"),
        ("PATCH", "/exhibits/exhibit-001", {}, "notes"),
        ("POST", "/visits", visit, "staff"),
        ("POST", "/visits", visit, "notes"),
        ("PATCH", f"/visits/{ids['visit']}", {}, "staff"),
        ("POST", f"/visits/{ids['visit']}/cancel", {}, "reason"),
        ("POST", "/programmes", {"name": "Light"}, "name"),
        ("POST", "/programmes", {"name": "Light"}, "description"),
        ("PATCH", f"/programmes/{ids['programme']}", {}, "description"),
        ("POST", "/tokens", {"role": "staff"}, "name"),
    ]


async def test_a_control_character_or_lone_surrogate_in_any_text_field_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    fields = _text_fields(await objects(client))
    for method, path, body, field in fields:
        for char in FORBIDDEN:
            detail = await refused(client, method, path, body | {field: f"Ab{char}c"})
            assert detail.startswith(f"body.{field}: U+{ord(char):04X} at position 2"), detail
    # Nothing of it was stored: the lists are as the fixtures left them.
    assert len((await client.get("/schools")).json()) == 1
    assert len((await client.get("/exhibits")).json()) == 1
    assert len((await client.get("/tokens")).json()) == 1


async def test_line_breaks_are_free_texts_own_but_no_names(client: httpx.AsyncClient) -> None:
    ids = await objects(client)
    notes = "Line one\r\n\tline two"
    changed = await client.patch(f"/visits/{ids['visit']}", json={"notes": notes})
    assert changed.status_code == 200, changed.text
    assert changed.json()["notes"] == notes
    detail = await refused(client, "PATCH", f"/visits/{ids['visit']}", {"staff": "Anna\nBērziņa"})
    assert detail.startswith("body.staff: U+000A at position 4"), detail


@pytest.mark.parametrize(
    ("path", "char"), [(path, char) for path in ("/exhibits/", "/places/") for char in "\x00\x1b"]
)
async def test_a_control_character_in_a_path_or_query_is_a_422(
    client: httpx.AsyncClient, path: str, char: str
) -> None:
    name = "path.exhibit_id" if path == "/exhibits/" else "path.code"
    escaped = f"%{ord(char):02X}"
    detail = (await problem(await client.get(f"{path}a{escaped}b"), 422))["detail"]
    assert detail.startswith(f"{name}: U+{ord(char):04X} at position 1"), detail
    audit = await problem(await client.get("/audit", params={"entity_id": f"a{char}"}), 422)
    assert audit["detail"].startswith(f"query.entity_id: U+{ord(char):04X}"), audit


async def test_blank_names_are_refused_and_surrounding_whitespace_removed(
    client: httpx.AsyncClient,
) -> None:
    for blank in (" ", "\u00a0\u2003", "   \n"):
        detail = await refused(client, "POST", "/schools", {"name": blank, "municipality": "Rīga"})
        assert detail == "body.name: may not be blank", detail
    school = await post(client, "/schools", {"name": "\u00a0Skola ", "municipality": "Rīga"})
    assert school["name"] == "Skola"
    long = {"name": " " + "x" * 200 + " ", "municipality": "Rīga"}
    assert (await post(client, "/schools", long))["name"] == "x" * 200
    too_long = {"name": "x" * 201, "municipality": "Rīga"}
    assert "at most 200 characters" in await refused(client, "POST", "/schools", too_long)


@pytest.mark.parametrize(
    "value",
    [
        "0.5",
        "1e3",
        "1714809600",
        "2026-05-04",
        "2026-05-04T08:00",
        "2026-05-04T08:00Z",
        "2026-05-04T08:00:00",
        "2026-05-04 08:00:00Z",
        "2026-05-04T08:00:00+0300",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
async def test_every_date_time_is_rfc_3339_with_an_offset(
    client: httpx.AsyncClient, value: str
) -> None:
    for path, name in [
        ("/visits", "to"),
        ("/visits", "from"),
        ("/reports/funder", "to"),
        ("/quarantine", "from"),
        ("/audit", "to"),
    ]:
        body = await problem(await client.get(path, params={name: value}), 422)
        assert body["detail"].startswith(f"query.{name}: "), body
        assert body["errors"][0]["loc"] == ["query", name]


async def test_a_number_is_no_date_time_in_a_body_either(client: httpx.AsyncClient) -> None:
    ids = await objects(client)
    for number in (0, 0.5, 1714809600):
        detail = await refused(client, "PATCH", f"/visits/{ids['visit']}", {"ends_at": number})
        assert detail.startswith("body.ends_at: a date-time must be RFC 3339"), detail


async def test_rfc_3339_date_times_with_any_offset_are_read_as_utc(
    client: httpx.AsyncClient,
) -> None:
    ids = await objects(client)
    for value in ("2026-05-04T11:00:00+03:00", "2026-05-04t08:00:00.000z"):
        response = await client.get("/visits", params={"from": value})
        assert response.status_code == 200, response.text
        assert [visit["id"] for visit in response.json()] == [ids["visit"]]
    report = await client.get("/reports/funder", params={"to": "2026-05-05T00:00:00+02:00"})
    assert report.status_code == 200, report.text
    assert report.json()["period"]["to"] == "2026-05-04T22:00:00Z"


async def test_fields_that_cannot_be_cleared_refuse_null_and_say_so_in_the_schema(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    ids = await objects(client)
    detail = await refused(client, "PATCH", f"/schools/{ids['school']}", {"region": None})
    assert detail == "body: region cannot be null"
    schemas = app.openapi()["components"]["schemas"]
    for model, fields in {
        "SchoolUpdate": ("name", "municipality", "region", "archived"),
        "ExhibitUpdate": ("name", "inputs", "retired"),
        "ProgrammeUpdate": ("name", "archived"),
        "VisitUpdate": ("school_id", "starts_at", "ends_at", "exhibit_ids", "programme_ids"),
    }.items():
        for field in fields:
            assert "null" not in json.dumps(schemas[model]["properties"][field]), (model, field)
    # The ones that can be cleared still say null.
    assert "null" in json.dumps(schemas["SchoolUpdate"]["properties"]["address"])


async def test_duplicate_inputs_are_refused_and_the_schema_says_unique(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = {"id": "exhibit-002", "name": "Lens", "inputs": ["button", "button"]}
    assert await refused(client, "POST", "/exhibits", body) == (
        "body.inputs: inputs lists button more than once"
    )
    schemas = app.openapi()["components"]["schemas"]
    assert schemas["ExhibitCreate"]["properties"]["inputs"]["uniqueItems"] is True
    assert schemas["VisitCreate"]["properties"]["exhibit_ids"]["uniqueItems"] is True


async def test_the_schema_states_the_text_rules(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    name = schemas["SchoolCreate"]["properties"]["name"]
    assert name == {"type": "string", "pattern": TextRules(200).pattern, "title": "Name"}
    for refused_name in ("A\x00b", "   ", "x" * 201):
        assert re.search(name["pattern"], refused_name) is None


EVERY_KIND = st.text(
    alphabet=st.one_of(
        st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2003\u3000x"),
        st.characters(codec="utf-8"),
    ),
    max_size=8,
)


@pytest.mark.parametrize(
    "rules",
    [TextRules(3), TextRules(1), TextRules(4, min_length=0, multiline=True), TextRules(2)],
    ids=repr,
)
@given(value=EVERY_KIND)
def test_the_pattern_accepts_exactly_what_the_validator_accepts(
    rules: TextRules, value: str
) -> None:
    """What a schema-driven client (schemathesis, Python's re) thinks is valid, is."""
    try:
        stored = rules.check(value)
    except ValueError:
        assert re.search(rules.pattern, value) is None
    else:
        assert re.search(rules.pattern, value) is not None
        assert stored == value.strip()
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", stored)


@given(value=EVERY_KIND, surrogate=st.characters(categories=["Cs"]), at=st.integers(0, 8))
def test_a_lone_surrogate_is_always_refused(value: str, surrogate: str, at: int) -> None:
    """Beyond the pattern (Unicode regex engines cannot name surrogates): refused too."""
    for rules in (TextRules(200), TextRules(4000, min_length=0, multiline=True)):
        with pytest.raises(ValueError, match="lone surrogates"):
            rules.check(value[:at] + surrogate + value[at:])


@given(value=EVERY_KIND)
def test_the_real_types_agree_with_their_patterns(value: str) -> None:
    for annotated, rules in ((Text200, TextRules(200)), (Notes, TextRules(4000, 0, True))):
        matches = re.search(rules.pattern, value) is not None
        try:
            TypeAdapter(annotated).validate_python(value)
        except ValidationError:
            assert not matches
        else:
            assert matches


async def test_true_and_false_are_no_numbers_and_0_and_1_no_booleans(
    client: httpx.AsyncClient,
) -> None:
    ids = await objects(client)
    number = await refused(client, "POST", "/programmes", {"name": "Light", "grade_min": True})
    assert number == "body.grade_min: a number, not true or false", number
    resend = await refused(client, "POST", "/exhibits/exhibit-001/resend", {"from_seq": True})
    assert resend == "body.from_seq: a number, not true or false", resend
    flag = await refused(client, "PATCH", f"/schools/{ids['school']}", {"archived": 0})
    assert flag.startswith("body.archived: Input should be a valid boolean"), flag
    bad_id = await client.get(f"/visits/{2**53}")
    assert (await problem(bad_id, 422))["detail"].startswith("path.visit_id: "), bad_id.text
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert schemas["VisitUpdate"]["properties"]["school_id"]["maximum"] == 2**53 - 1
