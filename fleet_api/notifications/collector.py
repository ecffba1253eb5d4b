"""Alerting on ``/metrics``: alerts raised now, and whether notifications get through.

``fleet_alerts_raised{severity}`` counts the alerts raised and not resolved;
``fleet_notifications_pending`` the deliveries not yet accepted, and
``fleet_notifications_oldest_pending_seconds`` how long the oldest has waited (a
receiver that is down shows here first); ``fleet_notifications_failed`` and
``_delivered`` count the last 24 hours' deliveries by outcome. Read from the database,
so every API process reports the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import State

from fleet_api.alerts import Severity
from fleet_api.notifications.outbox import counts
from fleet_api.store.alert_states import raised_alerts

log = logging.getLogger(__name__)
WINDOW = timedelta(hours=24)


class NotificationCollector(Collector):
    """Reads the alert states and the outbox at scrape time (``app.state.engine``)."""

    def __init__(self, state: State) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        """The alerting families as they are now (none if the database cannot be read)."""
        engine: Engine | None = getattr(self._state, "engine", None)
        if engine is None:
            return
        now = datetime.now(UTC)
        try:
            with engine.connect() as connection:
                raised = raised_alerts(connection)
                outbox = counts(connection, since=now - WINDOW)
        except SQLAlchemyError as exc:
            log.warning("alerting metrics: the database cannot be read: %s", exc)
            return
        by_severity = GaugeMetricFamily(
            "fleet_alerts_raised", "Alerts raised and not yet resolved", labels=["severity"]
        )
        for severity in Severity:
            by_severity.add_metric(
                [severity.value], sum(1 for alert in raised if alert.severity is severity)
            )
        yield by_severity
        yield GaugeMetricFamily(
            "fleet_notifications_pending",
            "Notifications not yet accepted by their receiver",
            value=outbox.pending,
        )
        oldest = (
            0.0
            if outbox.oldest_pending_at is None
            else max((now - outbox.oldest_pending_at).total_seconds(), 0.0)
        )
        yield GaugeMetricFamily(
            "fleet_notifications_oldest_pending_seconds",
            "How long the oldest notification not yet accepted has waited (0: none waits)",
            value=oldest,
        )
        yield GaugeMetricFamily(
            "fleet_notifications_failed",
            "Notifications given up in the last 24 hours (refused for good, or too old)",
            value=outbox.failed,
        )
        yield GaugeMetricFamily(
            "fleet_notifications_delivered",
            "Notifications accepted by their receiver in the last 24 hours",
            value=outbox.delivered,
        )
