"""``/alerts``: what is raised now, the latest changes and where they were sent; and
``POST /alerts/test``, a test notification to every configured destination."""

from __future__ import annotations

from fastapi import APIRouter, Request

from broker.messages import utc_now
from fleet_api.deps import (
    AUTH_RESPONSES,
    AdminAccess,
    CurrentToken,
    ReadAccess,
    SessionDep,
    SettingsDep,
)
from fleet_api.errors import InvalidRequest
from fleet_api.models.alerts import AlertsPublic, TestNotification
from fleet_api.notifications.service import targets_of
from fleet_api.problems import problem_responses
from fleet_api.store.alert_history import alerts_overview, queue_test

router = APIRouter(
    prefix="/alerts", tags=["alerts"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)


@router.get("")
def list_alerts(session: SessionDep) -> AlertsPublic:
    """Alerts raised and not resolved, the latest 100 changes with their deliveries, and
    how the notification outbox is doing."""
    return alerts_overview(session.connection(), now=utc_now())


@router.post("/test", status_code=202, dependencies=[AdminAccess], responses=problem_responses(422))
def send_test(
    session: SessionDep, settings: SettingsDep, caller: CurrentToken, request: Request
) -> TestNotification:
    """Send a test notification to every configured webhook and address (through the
    outbox, like any alert): see it arrive, or see its error in ``GET /alerts``."""
    targets = targets_of(settings)
    every = targets.for_severity(targets.min_severity)
    if not every:
        raise InvalidRequest(
            "no destination is configured: set FLEET_NOTIFY_WEBHOOKS or FLEET_NOTIFY_EMAILS"
        )
    # The request's own session: on SQLite it already holds the write lock.
    event_id = queue_test(
        session.connection(),
        targets=every,
        who=caller.name,
        now=utc_now(),
        public_url=targets.public_url,
    )
    session.commit()
    alerting = getattr(request.app.state, "alerting", None)
    if alerting is not None:
        alerting.dispatcher.wake()
    return TestNotification(event_id=event_id)
