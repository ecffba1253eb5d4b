"""Token auth: 401 without a valid token, 403 for the wrong role, on every route there is."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fleet_api.auth import Role, hash_token, new_token, plausible
from fleet_api.tables import api_tokens
from tests.fleet_api.builders import T0, iso
from tests.fleet_api.conftest import AuthHeaders
from tests.fleet_api.tokens import bearer

PROBLEM = "application/problem+json"
PUBLIC = {"/healthz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) in the OpenAPI document, path parameters filled with 1.

    A route hidden from the document must be public (in PUBLIC) or tested on its own.
    """
    return sorted(
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, methods in app.openapi()["paths"].items()
        if path not in PUBLIC
        for method in methods
    )


def test_roles_are_ordered_viewer_then_staff_or_technician_then_admin() -> None:
    allowed = {(held, needed) for held in Role for needed in Role if held.allows(needed)}
    assert allowed == {
        *((held, Role.VIEWER) for held in Role),
        (Role.STAFF, Role.STAFF),
        (Role.TECHNICIAN, Role.TECHNICIAN),
        *((Role.ADMIN, needed) for needed in Role),
    }


def test_tokens_are_random_recognisable_and_stored_as_sha256() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"fleet_[A-Za-z0-9_-]{43}", token) for token in tokens)
    token = tokens.pop()
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert plausible(token)
    assert not any(plausible(bad) for bad in ("", "x" * 257, "fleet_ü", "tab\there"))


async def test_every_route_but_health_metrics_and_docs_needs_a_token(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    served = operations(app)
    assert ("POST", "/visits") in served
    assert ("DELETE", "/tokens/1") in served
    for method, path in served:
        response = await anonymous.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "not_authenticated"


async def test_health_metrics_and_docs_need_no_token(anonymous: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/metrics", "/docs", "/openapi.json"):
        assert (await anonymous.get(path)).status_code == 200, path


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer fleet_not-a-token-anyone-was-given-0123456789",
        "Bearer " + "x" * 300,
        "Basic dXNlcjpwYXNz",
        "Bearer",
    ],
)
async def test_an_unknown_or_malformed_token_is_401(
    anonymous: httpx.AsyncClient, authorization: str
) -> None:
    response = await anonymous.get("/exhibits", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "x" * 50 not in response.text


async def test_a_viewer_reads_everything_and_writes_nothing(
    app: FastAPI, anonymous: httpx.AsyncClient, auth_headers: AuthHeaders
) -> None:
    viewer = auth_headers("viewer")
    for path in ("/exhibits", "/schools", "/visits", "/ingest/stats"):
        assert (await anonymous.get(path, headers=viewer)).status_code == 200, path
    for method, path in operations(app):
        if method == "GET":
            continue
        response = await anonymous.request(method, path, headers=viewer)
        assert response.status_code == 403, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert "this token's role is viewer" in response.json()["detail"]


def school() -> dict[str, Any]:
    return {
        "name": "Kuldīgas 2. vidusskola",
        "municipality": "Kuldīgas novads",
        "region": "Kurzeme",
    }


def visit(school_id: int, exhibit_id: str, day: int) -> dict[str, Any]:
    start = T0.replace(day=T0.day + day)
    return {
        "school_id": school_id,
        "starts_at": iso(start),
        "ends_at": iso(start.replace(hour=15)),
        "exhibit_ids": [exhibit_id],
    }


@pytest.mark.parametrize(
    ("role", "may"),
    [
        ("staff", {"schools", "visits"}),
        ("technician", {"exhibits", "quarantine"}),
        ("admin", {"schools", "visits", "exhibits", "quarantine", "tokens"}),
    ],
)
async def test_each_role_writes_what_it_is_for(
    anonymous: httpx.AsyncClient, auth_headers: AuthHeaders, role: str, may: set[str]
) -> None:
    headers = auth_headers(role)
    admin = auth_headers("admin")
    exhibit_id = f"exhibit-{role}"
    await anonymous.post("/exhibits", json={"id": exhibit_id, "name": "X"}, headers=admin)
    school_id = (await anonymous.post("/schools", json=school(), headers=admin)).json()["id"]
    attempts = {
        "exhibits": anonymous.post(
            "/exhibits", json={"id": "exhibit-new", "name": "New"}, headers=headers
        ),
        "schools": anonymous.post("/schools", json=school(), headers=headers),
        "visits": anonymous.post("/visits", json=visit(school_id, exhibit_id, 1), headers=headers),
        "quarantine": anonymous.get("/quarantine", headers=headers),
        "tokens": anonymous.post(
            "/tokens", json={"name": "Anna", "role": "viewer"}, headers=headers
        ),
    }
    for family, attempt in attempts.items():
        response = await attempt
        expected = (200, 201) if family in may else (403,)
        assert response.status_code in expected, (role, family, response.text)
        if response.status_code == 403:
            assert f"this token's role is {role}" in response.json()["detail"]


async def test_the_403_names_the_role_needed(
    anonymous: httpx.AsyncClient, auth_headers: AuthHeaders
) -> None:
    response = await anonymous.post(
        "/exhibits", json={"id": "exhibit-001", "name": "X"}, headers=auth_headers("staff")
    )
    assert response.status_code == 403
    assert response.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "this needs a technician or admin token; this token's role is staff",
        "code": "forbidden",
    }


async def test_the_openapi_document_says_which_routes_need_a_token(
    anonymous: httpx.AsyncClient,
) -> None:
    document = (await anonymous.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations_ in document["paths"].items():
        for method, operation in operations_.items():
            if path in PUBLIC:
                assert "security" not in operation, (method, path)
                continue
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


async def test_tokens_are_created_listed_and_revoked_by_an_admin(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    response = await client.post("/tokens", json={"name": " Anna ", "role": "staff"})
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    token = created.pop("token")
    assert created == {
        "id": created["id"],
        "name": "Anna",
        "role": "staff",
        "created_at": created["created_at"],
        "revoked_at": None,
    }
    assert response.headers["location"] == f"/tokens/{created['id']}"
    assert (await client.get(response.headers["location"])).json() == created

    anna = bearer(token)
    assert (await anonymous.post("/schools", json=school(), headers=anna)).status_code == 201
    listed = await client.get("/tokens")
    assert created in listed.json()
    assert token not in listed.text
    assert listed.headers["x-total-count"] == str(len(listed.json()))

    with app.state.engine.connect() as connection:
        stored = connection.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert hash_token(token) in stored
    assert token not in stored

    assert (await client.delete(f"/tokens/{created['id']}")).status_code == 204
    refused = await anonymous.get("/schools", headers=anna)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert refused.json()["detail"].startswith("the bearer token was revoked at ")
    # Revoking again changes nothing; the first revocation time stays.
    first = (await client.get(f"/tokens/{created['id']}")).json()["revoked_at"]
    assert (await client.delete(f"/tokens/{created['id']}")).status_code == 204
    assert (await client.get(f"/tokens/{created['id']}")).json()["revoked_at"] == first
    missing = await client.delete("/tokens/999")
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_token")


@pytest.mark.parametrize(
    "body",
    [{"name": "Anna", "role": "root"}, {"name": "", "role": "staff"}, {"role": "staff"}],
)
async def test_a_bad_token_request_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/tokens", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body.")
