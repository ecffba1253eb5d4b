"""Alert changes reach a person by e-mail: a real SMTP server (aiosmtpd) over STARTTLS gets
one message per change, threaded, retried when busy and given up when refused for good, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from broker.devca import ensure_dev_ca
from fleet_api.alert_tables import notification_deliveries
from fleet_api.settings import Settings
from tests.fleet_api.alerting_app import PATIENCE, back_online, fast, offline_in_a_visit, running
from tests.fleet_api.alerting_app import receiver as receiver  # the shared fixture
from tests.fleet_api.fakes import eventually
from tests.fleet_api.receivers import SmtpReceiver, WebhookReceiver

pytestmark = pytest.mark.integration


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
