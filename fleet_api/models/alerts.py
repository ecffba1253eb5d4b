"""Alert changes and notifications as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from fleet_api.alert_changes import AlertStatus
from fleet_api.alerts import Severity


class RaisedAlert(BaseModel):
    """An alert raised and not yet resolved."""

    alert_id: str
    code: str
    severity: Severity
    message: str = Field(description="what it said when it was raised")
    exhibit_id: str | None
    visit_id: int | None
    since: datetime = Field(description="when the problem appeared")
    raised_at: datetime
    active: bool = Field(
        description="false: gone for now, resolved if it stays away FLEET_ALERTS_RESOLVE_AFTER_S"
    )


class DeliveryPublic(BaseModel):
    """One event sent to one destination."""

    channel: str = Field(description="webhook or email")
    destination: str = Field(description="the webhook's name, or the e-mail address")
    state: str = Field(description="pending, delivered, failed or dropped")
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


class AlertEventPublic(BaseModel):
    """An alert raised or resolved, and where it was sent."""

    event_id: str
    alert_id: str
    status: AlertStatus
    severity: Severity
    at: datetime
    deliveries: list[DeliveryPublic]


class OutboxPublic(BaseModel):
    """Whether notifications get through."""

    pending: int
    failed_24h: int
    delivered_24h: int
    oldest_pending_at: datetime | None


class AlertsPublic(BaseModel):
    """What is raised now, the latest changes, and the notification outbox."""

    raised: list[RaisedAlert]
    events: list[AlertEventPublic] = Field(description="the latest 100 changes, newest first")
    outbox: OutboxPublic


class TestNotification(BaseModel):
    """A test notification queued for every destination."""

    event_id: str
