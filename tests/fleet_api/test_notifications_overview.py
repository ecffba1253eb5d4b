"""Whether alerts get through, as staff see it: the test notification (an admin's, with a
destination), the alerts overview and the technician page, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from fleet_api.settings import Settings
from tests.fleet_api.alerting_app import (
    PATIENCE,
    SECRET,
    fast,
    offline_in_a_visit,
    running,
    signed_by,
)
from tests.fleet_api.alerting_app import receiver as receiver  # the shared fixture
from tests.fleet_api.fakes import eventually
from tests.fleet_api.receivers import WebhookReceiver
from tests.fleet_api.tokens import ADMIN_TOKEN

pytestmark = pytest.mark.integration


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
