"""Every error is RFC 9457 problem+json: 404, 405, 422, and the unexpected 500 and 503."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

PROBLEM = "application/problem+json"


@pytest.fixture
def failing(app: FastAPI) -> FastAPI:
    """The app with two routes that fail the way bugs and outages do."""

    def bug() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    def outage() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection to 10.0.0.5 refused"))

    app.add_api_route("/test/bug", bug)
    app.add_api_route("/test/outage", outage)
    return app


async def test_an_unexpected_error_is_a_500_problem_naming_only_a_request_id(
    failing: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="fleet_api.problems"):
        response = await client.get("/test/bug")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": f"an unexpected error occurred; it is logged under request id {request_id}",
        "code": "internal_error",
        "request_id": request_id,
    }
    assert "hunter2" not in response.text
    [logged] = caplog.records
    assert request_id in logged.getMessage()
    assert logged.exc_info is not None
    assert "hunter2" in str(logged.exc_info[1])


async def test_a_lost_database_is_a_503_without_its_internals(
    failing: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/test/outage")
    assert (response.status_code, response.headers["content-type"]) == (503, PROBLEM)
    assert response.json()["code"] == "database_unavailable"
    assert "10.0.0.5" not in response.text


async def test_a_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/schools")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert response.json()["code"] == "method_not_allowed"


async def test_an_unknown_path_is_a_404_problem(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/nowhere")
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)


@pytest.mark.parametrize(
    ("body", "detail"),
    [(b'{"name": ', "body.9: JSON decode error"), (b'{"name": "\xff"}', "body: not UTF-8 JSON")],
)
async def test_a_body_that_is_not_json_is_a_422_problem(
    client: httpx.AsyncClient, body: bytes, detail: str
) -> None:
    response = await client.post(
        "/schools", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)
    assert response.json()["detail"] == detail


@pytest.mark.parametrize(
    ("given", "kept"),
    [("trace-42.a_b", True), ("x" * 65, False), ("two words", False), ("", False)],
)
async def test_every_response_carries_a_request_id(
    client: httpx.AsyncClient, given: str, kept: bool
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": given})
    echoed = response.headers["x-request-id"]
    assert (echoed == given) is kept
    assert len(echoed) in (len(given), 32)
