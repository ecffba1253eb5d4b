"""An API process that raises alerts and sends them, for the notification tests: settings that
evaluate and retry fast, a real webhook receiver (fixture ``receiver``), an exhibit going
offline in a visit and back, and a receiver's own check of the signature."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.messages import utc_now
from fleet_api.main import create_app
from fleet_api.notifications.settings import WebhookTarget
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import beat, iso, status
from tests.fleet_api.receivers import WebhookReceiver
from tests.fleet_api.tokens import ADMIN_HEADERS

SECRET = "s3cret-shared-with-the-receiver-0123456789"


PATIENCE = 30.0
"""Seconds to wait for a delivery (generous: the machine may be busy with other suites)."""


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


def fast(settings: Settings, receiver: WebhookReceiver, **more: Any) -> Settings:
    """Settings that evaluate five times a second, raise and resolve at once, retry fast."""
    values: dict[str, Any] = {
        "alerts_interval_s": 0.2,
        "alerts_raise_after_s": 0,
        "alerts_resolve_after_s": 0,
        "notify_retry_min_s": 0.2,
        "notify_retry_max_s": 1.0,
        "notify_timeout_s": 2.0,
        "notify_webhooks": [WebhookTarget(name="depot", url=receiver.url, secret=SECRET)],
        "public_url": "https://fleet.example.lv",
    }
    values.update(more)
    return settings.model_copy(update=values)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One API process (its lifespan: watcher and dispatcher included) and a client."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=ADMIN_HEADERS
        ) as client:
            yield app, client


async def offline_in_a_visit(app: FastAPI, client: httpx.AsyncClient) -> int:
    """exhibit-001 in a visit that runs now, and its last will: offline during the visit."""
    if (await client.get("/exhibits/exhibit-001")).status_code == 404:
        await client.post("/exhibits", json={"id": "exhibit-001", "name": "Pendulum"})
    school = await client.post(
        "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
    )
    now = utc_now()
    visit = await client.post(
        "/visits",
        json={
            "school_id": school.json()["id"],
            "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(hours=3)),
            "exhibit_ids": ["exhibit-001"],
        },
    )
    assert visit.status_code == 201, visit.text
    write_batch(app.state.engine, [status("exhibit-001", online=False, at=None, boot_id=None)])
    return int(visit.json()["id"])


def back_online(app: FastAPI) -> None:
    now = utc_now()
    write_batch(app.state.engine, [status("exhibit-001", at=now), beat("exhibit-001", at=now)])


def signed_by(secret: str, request: Any) -> bool:
    """Check the signature the way a receiver would, without the fleet's code."""
    header = request.headers["X-Fleet-Signature"]
    timestamp, given = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    fresh = abs(time.time() - int(timestamp)) < 60
    return fresh and hmac.compare_digest(expected.hexdigest(), given)
