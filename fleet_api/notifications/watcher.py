"""The watcher: evaluates the fleet's alerts every ``FLEET_ALERTS_INTERVAL_S`` and records
what was raised or resolved (:mod:`fleet_api.store.alert_states`), for the dispatcher.

Exhibit alerts are judged from what ingestion stored. While this process's own ingestion
is not connected, or connected for less than ``FLEET_HEALTH_OFFLINE_GRACE_S``, that is
old news: every exhibit would look offline after an API restart or a broker outage. So
then nothing about the exhibits changes (no raise, no resolve) and this worker's
``ingestion_down`` alert says what is wrong instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fleet_api.alert_changes import Change, FleetAlertCode, Hold, Observed, fleet_alert_id
from fleet_api.alerts import Severity, Thresholds
from fleet_api.ingest import Ingestor
from fleet_api.store.alert_states import Targets, evaluate_exhibits, evaluate_one, prune_events

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=6)


class AlertWatcher:
    """Evaluates alerts periodically; calls ``on_change`` when something was queued."""

    def __init__(
        self,
        engine: Engine,
        *,
        thresholds: Thresholds,
        hold: Hold,
        targets: Targets,
        interval_s: float,
        ingestor: Ingestor | None,
        worker: str,
        on_change: Callable[[list[Change]], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.thresholds = thresholds
        self.hold = hold
        self.targets = targets
        self.interval_s = interval_s
        self.ingestor = ingestor
        self.ingestion_alert = fleet_alert_id(FleetAlertCode.INGESTION_DOWN, worker)
        self._on_change = on_change
        self._clock = clock
        self._connected_since: datetime | None = None
        self._pruned_at: datetime | None = None
        self._stop = asyncio.Event()
        self.evaluations = 0

    async def run(self) -> None:
        """Evaluate every interval (the first after one interval) until :meth:`finish`."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
            if self._stop.is_set():
                return
            try:
                await self.tick()
            except SQLAlchemyError as exc:
                log.warning("alerts: the database is away, trying again: %s", exc)

    def finish(self) -> None:
        """Stop after the evaluation in hand (its transaction commits or rolls back whole)."""
        self._stop.set()

    async def tick(self) -> list[Change]:
        """One evaluation: this worker's ingestion, then the exhibits if their news is fresh."""
        now = self._clock()
        changes: list[Change] = []
        if self.ingestor is not None:
            connected = self.ingestor.connected
            if not connected:
                self._connected_since = None
            elif self._connected_since is None:
                self._connected_since = now
            observed = None
            if not connected:
                observed = Observed(
                    alert_id=self.ingestion_alert,
                    code=FleetAlertCode.INGESTION_DOWN.value,
                    severity=Severity.WARNING,
                    message="ingestion is not connected to the MQTT broker: exhibits keep "
                    "their records, but nothing reaches the fleet",
                )
            changes += await asyncio.to_thread(
                evaluate_one,
                self.engine,
                alert_id=self.ingestion_alert,
                observed=observed,
                hold=self.hold,
                targets=self.targets,
                now=now,
            )
        if self._news_is_fresh(now):
            changes += await asyncio.to_thread(
                evaluate_exhibits,
                self.engine,
                thresholds=self.thresholds,
                hold=self.hold,
                targets=self.targets,
                now=now,
            )
            self.evaluations += 1
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            await asyncio.to_thread(prune_events, self.engine, now=now)
            self._pruned_at = now
        if changes:
            for change in changes:
                log.info("alert %s %s", change.state.alert_id, change.status.value)
            self._on_change(changes)
        return changes

    def _news_is_fresh(self, now: datetime) -> bool:
        if self.ingestor is None:
            return True  # another process ingests; what it stored is current
        since = self._connected_since
        return since is not None and now - since >= self.thresholds.offline_grace
