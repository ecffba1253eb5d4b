"""Reading alert states, events and deliveries back, for ``GET /alerts`` and the pages;
queueing a test notification."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from fleet_api.alert_changes import AlertStatus
from fleet_api.alert_tables import alert_events, notification_deliveries
from fleet_api.alerts import Severity
from fleet_api.models.alerts import (
    AlertEventPublic,
    AlertsPublic,
    DeliveryPublic,
    OutboxPublic,
    RaisedAlert,
)
from fleet_api.notifications.events import SCHEMA_VERSION
from fleet_api.notifications.outbox import Target, counts, enqueue
from fleet_api.store.alert_states import raised_alerts

EVENTS_SHOWN = 100
TEST_CODE = "test"


def alerts_overview(connection: Connection, *, now: datetime) -> AlertsPublic:
    """Raised alerts, the latest events with their deliveries, and the outbox."""
    raised = [
        RaisedAlert(
            alert_id=state.alert_id,
            code=state.code,
            severity=state.severity,
            message=state.message,
            exhibit_id=state.exhibit_id,
            visit_id=state.visit_id,
            since=state.since,
            raised_at=state.raised_at or state.since,
            active=state.active,
        )
        for state in raised_alerts(connection)
    ]
    events = list(
        connection.execute(
            select(alert_events).order_by(alert_events.c.at.desc()).limit(EVENTS_SHOWN)
        ).mappings()
    )
    deliveries: dict[str, list[DeliveryPublic]] = {row["event_id"]: [] for row in events}
    if deliveries:
        rows = notification_deliveries.c
        for row in connection.execute(
            select(notification_deliveries)
            .where(rows.event_id.in_(list(deliveries)))
            .order_by(rows.id)
        ).mappings():
            deliveries[row["event_id"]].append(
                DeliveryPublic(
                    channel=row["channel"],
                    destination=row["destination"],
                    state=row["state"],
                    attempts=row["attempts"],
                    next_attempt_at=row["next_attempt_at"] if row["state"] == "pending" else None,
                    delivered_at=row["delivered_at"],
                    last_error=row["last_error"],
                )
            )
    outbox = counts(connection, since=now - timedelta(hours=24))
    return AlertsPublic(
        raised=raised,
        events=[
            AlertEventPublic(
                event_id=row["event_id"],
                alert_id=row["alert_id"],
                status=AlertStatus(row["status"]),
                severity=Severity(row["severity"]),
                at=row["at"],
                deliveries=deliveries[row["event_id"]],
            )
            for row in events
        ],
        outbox=OutboxPublic(
            pending=outbox.pending,
            failed_24h=outbox.failed,
            delivered_24h=outbox.delivered,
            oldest_pending_at=outbox.oldest_pending_at,
        ),
    )


def queue_test(
    connection: Connection,
    *,
    targets: list[Target],
    who: str,
    now: datetime,
    public_url: str | None,
) -> str:
    """Queue a test notification to every destination; return its event id."""
    event_id = f"{uuid.uuid4().hex}-{AlertStatus.RAISED.value}"
    alert_id = f"fleet:{TEST_CODE}"
    at = now.isoformat().replace("+00:00", "Z")
    body = {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id,
        "alert_id": alert_id,
        "status": AlertStatus.RAISED.value,
        "code": TEST_CODE,
        "severity": Severity.INFO.value,
        "exhibit_id": None,
        "exhibit_name": None,
        "visit_id": None,
        "message": f"a test notification, asked for by {who}: nothing is wrong",
        "started_at": at,
        "resolved_at": None,
        "at": at,
        "url": None if public_url is None else f"{public_url}/ui/technician",
    }
    connection.execute(
        alert_events.insert().values(
            event_id=event_id,
            alert_id=alert_id,
            status=AlertStatus.RAISED.value,
            severity=Severity.INFO.value,
            at=now,
            body=json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        )
    )
    enqueue(connection, event_id=event_id, alert_id=alert_id, targets=targets, now=now)
    return event_id
