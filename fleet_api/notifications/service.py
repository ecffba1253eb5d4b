"""The watcher and the dispatcher as asyncio tasks of the API's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import Engine

from fleet_api.alert_changes import Change, Hold
from fleet_api.alerts import Severity, Thresholds
from fleet_api.ingest import Ingestor
from fleet_api.notifications.dispatcher import Dispatcher
from fleet_api.notifications.settings import NotificationSettings
from fleet_api.notifications.watcher import AlertWatcher
from fleet_api.store.alert_states import Targets

log = logging.getLogger(__name__)


def targets_of(settings: NotificationSettings) -> Targets:
    """Where alert changes go, from the settings."""
    return Targets(
        webhooks=tuple(target.name for target in settings.notify_webhooks),
        emails=tuple(settings.notify_emails),
        min_severity=Severity(settings.notify_min_severity),
        public_url=settings.public_url,
    )


def hold_of(settings: NotificationSettings) -> Hold:
    """The hold-down times, from the settings."""
    return Hold(
        raise_after=timedelta(seconds=settings.alerts_raise_after_s),
        resolve_after=timedelta(seconds=settings.alerts_resolve_after_s),
    )


class AlertService:
    """Runs :class:`AlertWatcher` and :class:`Dispatcher` until stopped."""

    def __init__(
        self,
        engine: Engine,
        settings: NotificationSettings,
        *,
        thresholds: Thresholds,
        ingestor: Ingestor | None,
        worker: str,
    ) -> None:
        self.dispatcher = Dispatcher(engine, settings)
        self.watcher = AlertWatcher(
            engine,
            thresholds=thresholds,
            hold=hold_of(settings),
            targets=targets_of(settings),
            interval_s=settings.alerts_interval_s,
            ingestor=ingestor,
            worker=worker,
            on_change=self._changed,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._grace_s = settings.notify_timeout_s + 1.0

    def start(self) -> None:
        """Start both tasks; call from the event loop."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.watcher.run(), name="fleet-alerts"),
            loop.create_task(self.dispatcher.run(), name="fleet-notifications"),
        ]

    async def stop(self) -> None:
        """Stop evaluating and sending once what is in hand is done (up to the notification
        timeout; then it is cut short). A delivery cut short is given back and sent again by
        the next API process: at least once, with the same event id. Nothing runs on in a
        thread after this returns, so the engine may be disposed."""
        if not self._tasks:
            return
        self.watcher.finish()
        self.dispatcher.finish()
        _, pending = await asyncio.wait(self._tasks, timeout=self._grace_s)
        for task in pending:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def _changed(self, changes: list[Change]) -> None:
        self.dispatcher.wake()
