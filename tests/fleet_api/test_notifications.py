"""Alert changes reach a person: a real HTTP server and a real SMTP server (aiosmtpd) receive
them, signed, in order, retried with backoff, across an API restart, at least once and
deduplicated by event id, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from broker.devca import ensure_dev_ca
from broker.messages import utc_now
from fleet_api.alert_tables import alert_events, notification_deliveries
from fleet_api.main import create_app
from fleet_api.notifications.settings import WebhookTarget
from fleet_api.notifications.signing import verify
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import beat, iso, status
from tests.fleet_api.fakes import eventually
from tests.fleet_api.receivers import SmtpReceiver, WebhookReceiver
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN

pytestmark = pytest.mark.integration

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


async def test_a_raise_and_its_resolve_reach_the_webhook_signed_and_in_order(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    async with running(fast(settings, receiver)) as (app, client):
        visit = await offline_in_a_visit(app, client)
        await eventually(lambda: len(receiver.requests) >= 1, timeout=PATIENCE)
        back_online(app)
        await eventually(lambda: len(receiver.requests) >= 2, timeout=PATIENCE)
        await asyncio.sleep(1.0)  # nothing more comes
    raised, resolved = receiver.events()
    assert len(receiver.requests) == 2
    alert_id = f"exhibit-001:offline_during_visit:visit-{visit}"
    assert (raised["alert_id"], raised["status"], raised["code"]) == (
        alert_id,
        "raised",
        "offline_during_visit",
    )
    assert (raised["exhibit_id"], raised["exhibit_name"], raised["visit_id"]) == (
        "exhibit-001",
        "Pendulum",
        visit,
    )
    assert raised["severity"] == "warning"
    assert raised["url"] == "https://fleet.example.lv/ui/exhibits/exhibit-001"
    assert f"offline during visit {visit}" in raised["message"]
    assert (resolved["alert_id"], resolved["status"]) == (alert_id, "resolved")
    episode = raised["event_id"].removesuffix("-raised")
    assert resolved["event_id"] == f"{episode}-resolved"
    assert resolved["resolved_at"] is not None
    assert resolved["started_at"] == raised["started_at"]
    for request, body in zip(receiver.requests, (raised, resolved), strict=True):
        assert request.path == "/hooks/fleet"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["X-Fleet-Event-Id"] == body["event_id"]
        assert request.headers["X-Fleet-Alert-Id"] == alert_id
        assert signed_by(SECRET, request)
        assert verify(SECRET, request.body, request.headers["X-Fleet-Signature"], now=time.time())
        assert not verify("another-secret-of-the-same-length-012345", request.body,
                          request.headers["X-Fleet-Signature"], now=time.time())  # fmt: skip
        assert not verify(SECRET, request.body + b" ", request.headers["X-Fleet-Signature"],
                          now=time.time())  # fmt: skip


async def test_delivery_is_retried_with_backoff_and_survives_an_api_restart(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    receiver.script.extend([503] * 100)  # the receiver is down all through the first run
    config = fast(settings, receiver, notify_retry_min_s=0.5, notify_retry_max_s=8.0)
    async with running(config) as (app, client):
        await offline_in_a_visit(app, client)
        await eventually(lambda: len(receiver.requests) >= 4, timeout=PATIENCE)
    down = list(receiver.requests)
    gaps = [b.at - a.at for a, b in itertools.pairwise(down)]
    # The waits double from 0.5 s, each jittered by up to 20%: 0.5, 1, 2 ...
    assert gaps[0] >= 0.4, gaps
    assert gaps[1] >= 0.8, gaps
    assert gaps[2] > gaps[0] + 0.8, gaps
    assert len({request.body for request in down}) == 1  # the same bytes every attempt
    assert [int(r.headers["X-Fleet-Delivery-Attempt"]) for r in down[:3]] == [1, 2, 3]

    receiver.script.clear()  # it is back up; so is the API, a new process on the same database
    async with running(config) as (app, client):
        await eventually(lambda: len(receiver.requests) > len(down), timeout=PATIENCE)
        await asyncio.sleep(1.0)
        with app.state.engine.connect() as connection:
            events = connection.execute(select(alert_events.c.status)).scalars().all()
            states = dict(
                connection.execute(
                    select(notification_deliveries.c.state, func.count()).group_by(
                        notification_deliveries.c.state
                    )
                ).all()
            )
    assert events == ["raised"]  # the restart raised nothing again
    assert states == {"delivered": 1}
    assert len(receiver.requests) == len(down) + 1
    assert receiver.requests[-1].body == down[0].body

    # Resolved while up; another restart re-sends nothing, resolved or not.
    async with running(config) as (app, client):
        back_online(app)
        await eventually(lambda: len(receiver.requests) == len(down) + 2, timeout=PATIENCE)
        await eventually(lambda: app.state.alerting.dispatcher.delivered == 1, timeout=PATIENCE)
    async with running(config) as (app, client):
        await asyncio.sleep(1.5)
    assert [event["status"] for event in receiver.events()[-2:]] == ["raised", "resolved"]
    assert len(receiver.requests) == len(down) + 2


async def test_at_least_once_a_reply_that_never_came_means_the_same_event_again(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    """The receiver took the first request but answered too late: the fleet cannot know,
    so it sends the event again, with the same event id for the receiver to drop."""
    receiver.script.append((200, 3.0))  # slower than FLEET_NOTIFY_TIMEOUT_S
    async with running(fast(settings, receiver, notify_timeout_s=0.5)) as (app, client):
        await offline_in_a_visit(app, client)
        await eventually(lambda: len(receiver.requests) >= 2, timeout=PATIENCE)
    first, second = receiver.requests[:2]
    assert first.headers["X-Fleet-Event-Id"] == second.headers["X-Fleet-Event-Id"]
    assert first.body == second.body
    assert len({event["event_id"] for event in receiver.events()}) == 1


async def test_only_warnings_are_sent_unless_told_otherwise(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    async with running(fast(settings, receiver)) as (app, client):
        await client.post("/exhibits", json={"id": "exhibit-002", "name": "Prism"})
        # Offline in the depot (no visit): information, not a reason to call anyone.
        write_batch(app.state.engine, [status("exhibit-002", online=False, at=None, boot_id=None)])
        await eventually(lambda: app.state.alerting.watcher.evaluations >= 3, timeout=PATIENCE)
        with app.state.engine.connect() as connection:
            assert connection.execute(select(alert_events.c.alert_id)).scalars().all() == [
                "exhibit-002:offline"
            ]
    assert receiver.requests == []
    async with running(fast(settings, receiver, notify_min_severity="info")) as (app, client):
        back_online(app)  # another exhibit's news changes nothing for exhibit-002
        write_batch(app.state.engine, [status("exhibit-002", at=utc_now())])
        await eventually(lambda: len(receiver.requests) >= 1, timeout=PATIENCE)
    assert receiver.events()[0]["alert_id"] == "exhibit-002:offline"
    assert receiver.events()[0]["status"] == "resolved"


async def test_two_api_processes_raise_and_send_an_alert_once(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    config = fast(settings, receiver, alerts_interval_s=0.2)
    async with running(config) as (one, client), running(config) as (two, _):
        await offline_in_a_visit(one, client)
        await eventually(lambda: len(receiver.requests) >= 1, timeout=PATIENCE)
        await eventually(
            lambda: (
                one.state.alerting.watcher.evaluations > 5
                and two.state.alerting.watcher.evaluations > 5
            )
        )
        await asyncio.sleep(1.0)
        with one.state.engine.connect() as connection:
            events = connection.execute(select(func.count()).select_from(alert_events)).scalar()
    assert events == 1
    assert len(receiver.requests) == 1


async def test_metrics_show_what_waits_and_what_is_raised(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    receiver.script.extend([500] * 100)
    async with running(fast(settings, receiver)) as (app, client):
        await offline_in_a_visit(app, client)
        await eventually(lambda: len(receiver.requests) >= 2, timeout=PATIENCE)
        text = (await client.get("/metrics")).text
    assert 'fleet_alerts_raised{severity="warning"} 1.0' in text
    assert "fleet_notifications_pending 1.0" in text
    assert "fleet_notifications_failed 0.0" in text
    oldest = next(
        line for line in text.splitlines() if line.startswith("fleet_notifications_oldest_pending")
    )
    assert float(oldest.split()[1]) > 0


# -- e-mail ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A dev CA and a certificate for 127.0.0.1: the SMTP server's STARTTLS."""
    ca = ensure_dev_ca(tmp_path_factory.mktemp("smtp-ca"), hosts=["127.0.0.1", "localhost"])
    return ca.ca_cert, ca.server_cert, ca.server_key


@pytest.fixture
def smtp(tls_files: tuple[Path, Path, Path]) -> Iterator[SmtpReceiver]:
    _, cert, key = tls_files
    server = SmtpReceiver(cert=(cert, key))
    yield server
    server.close()


def with_email(
    settings: Settings, receiver: WebhookReceiver, smtp: SmtpReceiver, ca: Path, **more: Any
) -> Settings:
    return fast(
        settings,
        receiver,
        notify_webhooks=[],
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="starttls",
        smtp_from="fleet@example.lv",
        notify_emails=["technician@example.lv"],
        notify_ca_file=ca,
        **more,
    )


async def test_an_email_per_change_over_starttls_threaded_and_retried(
    settings: Settings,
    receiver: WebhookReceiver,
    smtp: SmtpReceiver,
    tls_files: tuple[Path, Path, Path],
) -> None:
    smtp.handler.refuse.append("451 4.3.0 Mailbox busy, try again")  # once
    async with running(with_email(settings, receiver, smtp, tls_files[0])) as (app, client):
        visit = await offline_in_a_visit(app, client)
        await eventually(lambda: len(smtp.messages) >= 1, timeout=PATIENCE)
        back_online(app)
        await eventually(lambda: len(smtp.messages) >= 2, timeout=PATIENCE)
        await eventually(lambda: app.state.alerting.dispatcher.delivered == 2, timeout=PATIENCE)
        with app.state.engine.connect() as connection:
            ordered = select(notification_deliveries.c.attempts).order_by(
                notification_deliveries.c.id
            )
            attempts = connection.execute(ordered).scalars().all()
    raised, resolved = smtp.messages
    assert raised["To"] == "technician@example.lv"
    assert raised["From"] == "fleet@example.lv"
    assert raised["Subject"] == (
        f"[exhibit fleet] RAISED: Pendulum (exhibit-001): offline during visit {visit}"
    )
    event_id = raised["X-Fleet-Event-Id"]
    assert raised["Message-ID"] == f"<{event_id}@exhibit-fleet>"
    assert resolved["In-Reply-To"] == f"<{event_id}@exhibit-fleet>"
    assert resolved["Subject"] == (
        f"[exhibit fleet] RESOLVED: Pendulum (exhibit-001): offline during visit {visit}"
    )
    text = raised.get_content()
    assert f"Visit: {visit}" in text
    assert "https://fleet.example.lv/ui/exhibits/exhibit-001" in text
    assert attempts == [2, 1]  # the raise was refused once (451), then accepted


async def test_an_address_refused_for_good_is_given_up_at_once(
    settings: Settings,
    receiver: WebhookReceiver,
    smtp: SmtpReceiver,
    tls_files: tuple[Path, Path, Path],
) -> None:
    smtp.handler.refuse.append("550 5.1.1 No such user")
    async with running(with_email(settings, receiver, smtp, tls_files[0])) as (app, client):
        await offline_in_a_visit(app, client)

        def given_up() -> bool:
            with app.state.engine.connect() as connection:
                return connection.execute(
                    select(notification_deliveries.c.state, notification_deliveries.c.attempts)
                ).all() == [("failed", 1)]

        await eventually(given_up, timeout=PATIENCE)
        await asyncio.sleep(1.0)
        text = (await client.get("/metrics")).text
    assert smtp.messages == []
    assert "fleet_notifications_failed 1.0" in text


async def test_a_webhook_removed_from_the_settings_is_dropped_not_retried(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    receiver.script.extend([503] * 100)
    async with running(fast(settings, receiver)) as (app, client):
        await offline_in_a_visit(app, client)
        await eventually(lambda: len(receiver.requests) >= 1, timeout=PATIENCE)
    async with running(fast(settings, receiver, notify_webhooks=[])) as (app, _):

        def dropped() -> bool:
            with app.state.engine.connect() as connection:
                found = connection.execute(select(notification_deliveries.c.state)).scalars()
                return list(found) == ["dropped"]

        await eventually(dropped, timeout=PATIENCE)


async def test_a_test_notification_and_the_alerts_overview(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    async with running(fast(settings, receiver)) as (app, client):
        sent = await client.post("/alerts/test")
        assert sent.status_code == 202, sent.text
        await eventually(lambda: len(receiver.requests) == 1, timeout=PATIENCE)
        [body] = receiver.events()
        assert (body["event_id"], body["code"], body["alert_id"]) == (
            sent.json()["event_id"],
            "test",
            "fleet:test",
        )
        assert "asked for by" in body["message"]
        assert signed_by(SECRET, receiver.requests[0])
        visit = await offline_in_a_visit(app, client)
        await eventually(lambda: len(receiver.requests) == 2, timeout=PATIENCE)
        await eventually(lambda: app.state.alerting.dispatcher.delivered == 2, timeout=PATIENCE)
        overview = (await client.get("/alerts")).json()
    [raised] = overview["raised"]
    assert raised["alert_id"] == f"exhibit-001:offline_during_visit:visit-{visit}"
    assert raised["active"] is True
    newest, test = overview["events"]
    assert (newest["alert_id"], newest["status"]) == (raised["alert_id"], "raised")
    assert [d["state"] for d in newest["deliveries"]] == ["delivered"]
    assert test["event_id"] == body["event_id"]
    assert overview["outbox"]["delivered_24h"] == 2
    assert overview["outbox"]["pending"] == 0


async def test_a_test_notification_needs_an_admin_and_a_destination(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    async with running(fast(settings, receiver, notify_webhooks=[])) as (app, client):
        refused = await client.post("/alerts/test")
        assert refused.status_code == 422
        assert "FLEET_NOTIFY_WEBHOOKS" in refused.json()["detail"]
        from tests.fleet_api.tokens import add_token, bearer

        technician = bearer(add_token(app.state.engine, "technician"))
        assert (await client.post("/alerts/test", headers=technician)).status_code == 403
        assert (await client.get("/alerts", headers=technician)).status_code == 200


async def test_the_technician_page_says_whether_notifications_get_through(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    from tests.fleet_api.web_client import log_in

    async with running(fast(settings, receiver)) as (app, client):
        await client.post("/alerts/test")
        await eventually(lambda: app.state.alerting.dispatcher.delivered == 1, timeout=PATIENCE)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
            await log_in(browser, ADMIN_TOKEN)
            page = (await browser.get("/ui/technician")).text
    assert "1 delivered and 0 given up in the last 24 hours; 0 waiting." in page
    async with running(fast(settings, receiver, notify_webhooks=[])) as (app, _):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
            await log_in(browser, ADMIN_TOKEN)
            page = (await browser.get("/ui/technician?lang=lv")).text
    assert "netiek sūtīti: nav iestatīts neviens tīmekļa āķis" in page
