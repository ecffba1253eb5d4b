"""``GET /quarantine``: what ingestion set aside, filtered by reason and time, for technicians."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from broker.limits import MAX_PAYLOAD_BYTES
from fleet_api.store.ingest import write_batch
from fleet_api.store.quarantine import PREVIEW_BYTES
from tests.fleet_api.builders import T0, iso, raw, status
from tests.fleet_api.conftest import AuthHeaders

TOPIC = "fleet/v1/exhibits/exhibit-001/counts"


@pytest.fixture
def quarantined(app: FastAPI) -> FastAPI:
    """Four quarantined messages, received an hour apart from T0 on."""
    messages = [
        raw(TOPIC, b'{"half": '),
        raw(TOPIC, b"\xff\xfe binary"),
        status("exhibit-404"),
        raw(TOPIC, "{ \u00e6\u00f8\u00e5 ".encode() * 400),
    ]
    for hour, message in enumerate(messages):
        write_batch(app.state.engine, [replace(message, received_at=T0 + timedelta(hours=hour))])
    return app


async def test_quarantined_messages_are_listed_newest_first_with_readable_payloads(
    quarantined: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/quarantine")
    assert response.status_code == 200
    assert response.headers["x-total-count"] == "4"
    items = response.json()
    assert [item["reason"] for item in items] == [
        "malformed",
        "unknown_exhibit",
        "malformed",
        "malformed",
    ]
    long_text, unknown, binary, half = items
    assert half == {
        "id": half["id"],
        "received_at": "2026-05-04T08:00:00Z",
        "topic": TOPIC,
        "reason": "malformed",
        "detail": half["detail"],
        "payload": '{"half": ',
        "payload_encoding": "utf-8",
        "payload_bytes": 9,
        "payload_truncated": False,
        "exhibit_id": "exhibit-001",
        "stored": None,
    }
    assert binary["payload_encoding"] == "base64"
    assert base64.b64decode(binary["payload"]) == b"\xff\xfe binary"
    assert "exhibit-404" in unknown["payload"]
    # A long payload is cut in the list (not inside a character) and whole in the item.
    assert long_text["payload_truncated"] is True
    assert long_text["payload_encoding"] == "utf-8"
    assert len(long_text["payload"].encode()) <= PREVIEW_BYTES
    whole = (await client.get(f"/quarantine/{long_text['id']}")).json()
    assert whole["payload_truncated"] is False
    assert whole["payload"] == "{ \u00e6\u00f8\u00e5 " * 400
    assert whole["payload_bytes"] == long_text["payload_bytes"] == len(whole["payload"].encode())


async def test_the_quarantine_is_filtered_by_reason_and_time_and_paged(
    quarantined: FastAPI, client: httpx.AsyncClient
) -> None:
    async def listed(**params: object) -> tuple[str, list[str]]:
        response = await client.get("/quarantine", params=params)
        assert response.status_code == 200, response.text
        return response.headers["x-total-count"], [i["received_at"][11:13] for i in response.json()]

    assert await listed(reason="malformed") == ("3", ["11", "09", "08"])
    assert await listed(reason="oversized") == ("0", [])
    window = {"from": iso(T0 + timedelta(hours=1)), "to": iso(T0 + timedelta(hours=3))}
    assert await listed(**window) == ("2", ["10", "09"])
    assert await listed(**window, reason="unknown_exhibit") == ("1", ["10"])
    assert await listed(limit=2, offset=1) == ("4", ["10", "09"])
    assert await listed(**{"from": "2026-05-04T10:00:00+02:00"}) == ("4", ["11", "10", "09", "08"])


async def test_an_oversized_message_keeps_only_its_start(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    write_batch(app.state.engine, [raw(TOPIC, b"x" * (MAX_PAYLOAD_BYTES + 10))])
    [item] = (await client.get("/quarantine")).json()
    assert (item["reason"], item["payload_bytes"]) == ("oversized", MAX_PAYLOAD_BYTES)
    assert len((await client.get(f"/quarantine/{item['id']}")).json()["payload"]) == (
        MAX_PAYLOAD_BYTES
    )


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"reason": "bored"}, "query.reason: Input should be 'oversized', 'malformed'"),
        (
            {"from": "2026-05-04T08:00:00"},
            "query.from: a date-time must be RFC 3339 (ISO 8601 with seconds and an offset)",
        ),
        ({"from": "yesterday"}, "query.from: a date-time must be RFC 3339"),
        (
            {"from": "2026-05-04T08:00:00Z", "to": "2026-05-04T08:00:00Z"},
            "query.to: must be after from (2026-05-04T08:00:00+00:00)",
        ),
        ({"limit": 0}, "query.limit: Input should be greater than or equal to 1"),
    ],
)
async def test_bad_filters_are_422_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, object], detail: str
) -> None:
    response = await client.get("/quarantine", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith(detail)


async def test_the_quarantine_is_for_technicians(
    client: httpx.AsyncClient, auth_headers: AuthHeaders
) -> None:
    for role, expected in (("viewer", 403), ("staff", 403), ("technician", 200), ("admin", 200)):
        response = await client.get("/quarantine", headers=auth_headers(role))
        assert response.status_code == expected, role
    missing = await client.get("/quarantine/99")
    assert (missing.status_code, missing.json()["detail"]) == (
        404,
        "quarantined message 99 does not exist",
    )
