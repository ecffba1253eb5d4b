"""Alert changes reach a person: a real HTTP server receives them, signed, in order, retried
with backoff, across an API restart, at least once and deduplicated by event id, on SQLite
and PostgreSQL. By e-mail: test_notifications_email.py; the test notification and the
overview: test_notifications_overview.py."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from sqlalchemy import func, select

from broker.messages import utc_now
from fleet_api.alert_tables import alert_events, notification_deliveries
from fleet_api.notifications.signing import verify
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.fleet_api.alerting_app import (
    PATIENCE,
    SECRET,
    back_online,
    fast,
    offline_in_a_visit,
    running,
    signed_by,
)
from tests.fleet_api.alerting_app import receiver as receiver  # the shared fixture
from tests.fleet_api.builders import status
from tests.fleet_api.fakes import eventually
from tests.fleet_api.receivers import WebhookReceiver

pytestmark = pytest.mark.integration


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
