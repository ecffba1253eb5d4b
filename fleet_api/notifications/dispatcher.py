"""The dispatcher: works through the outbox (:mod:`fleet_api.notifications.outbox`).

Every second, and at once when an evaluation queued something, it takes the deliveries
that are due, claims each (a lease: another API process will not send it meanwhile),
sends it, and records the outcome: delivered; retried after a backoff that doubles from
``FLEET_NOTIFY_RETRY_MIN_S`` up to ``FLEET_NOTIFY_RETRY_MAX_S`` (with jitter, and at
least the receiver's ``Retry-After``); or, refused for good or older than
``FLEET_NOTIFY_GIVE_UP_H``, failed. A delivery whose webhook or address is no longer
configured is dropped. Nothing is kept in memory: a restarted API carries on with what
the database says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fleet_api.notifications import outbox
from fleet_api.notifications.delivery import Outcome, post_webhook, send_email, tls_context
from fleet_api.notifications.settings import NotificationSettings

log = logging.getLogger(__name__)

POLL_S = 1.0
CONCURRENCY = 8
"""Deliveries in flight at once (to different alerts or destinations)."""


class Dispatcher:
    """Sends what the outbox holds, with retries; one per API process."""

    def __init__(
        self,
        engine: Engine,
        settings: NotificationSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = lambda: random.uniform(0.8, 1.2),  # noqa: S311 - spread
    ) -> None:
        self.engine = engine
        self.settings = settings
        self._clock = clock
        self._jitter = jitter
        self._wake = asyncio.Event()
        self._stopping = False
        self._webhooks = {target.name: target for target in settings.notify_webhooks}
        self.delivered = 0
        self.failed = 0
        self.attempts = 0

    def wake(self) -> None:
        """Look at the outbox now (an evaluation queued something)."""
        self._wake.set()

    def finish(self) -> None:
        """Stop after the deliveries in flight: :meth:`run` returns once they are recorded."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Work until :meth:`finish` (or cancelled)."""
        verify: bool | object = True
        if self.settings.notify_ca_file is not None:
            verify = tls_context(self.settings.notify_ca_file)
        async with httpx.AsyncClient(
            timeout=self.settings.notify_timeout_s,
            verify=verify,  # type: ignore[arg-type]
            follow_redirects=False,
            trust_env=False,
        ) as client:
            while not self._stopping:
                wait = POLL_S
                try:
                    await self.round(client)
                    due = await asyncio.to_thread(outbox.next_attempt, self.engine)
                    if due is not None:  # a retry due before the next look: wake for it
                        wait = min(max((due - self._clock()).total_seconds(), 0.01), POLL_S)
                except SQLAlchemyError as exc:
                    log.warning("notifications: the database is away, retrying: %s", exc)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def round(self, client: httpx.AsyncClient) -> int:
        """Attempt every delivery due now; return how many were attempted."""
        now = self._clock()
        due = await asyncio.to_thread(outbox.due, self.engine, now=now)
        if not due:
            return 0
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(item: outbox.Due) -> bool:
            async with limit:
                return await self._attempt(client, item)

        done = await asyncio.gather(*(one(item) for item in due))
        return sum(done)

    async def _attempt(self, client: httpx.AsyncClient, item: outbox.Due) -> bool:
        now = self._clock()
        lease = max(outbox.LEASE, timedelta(seconds=3 * self.settings.notify_timeout_s))
        if not await asyncio.to_thread(outbox.claim, self.engine, item.id, now=now, lease=lease):
            return False  # another process has it, or it is done
        try:
            return await self._send(client, item)
        except asyncio.CancelledError:
            # Stopping: give it back now rather than when the lease runs out. If it was sent
            # already, the receiver gets it again: at least once, the same event id.
            outbox.release(self.engine, item.id)
            raise

    async def _send(self, client: httpx.AsyncClient, item: outbox.Due) -> bool:
        now = self._clock()
        self.attempts += 1
        attempt = item.attempts + 1
        if item.channel == "webhook":
            target = self._webhooks.get(item.destination)
            if target is None:
                await self._drop(item, now, "the webhook is no longer configured")
                return True
            outcome = await post_webhook(
                client,
                target,
                body=item.body,
                event_id=item.event_id,
                alert_id=item.alert_id,
                attempt=attempt,
                now=now.timestamp(),
            )
        else:
            if item.destination not in self.settings.notify_emails:
                await self._drop(item, now, "the address is no longer configured")
                return True
            outcome = await asyncio.to_thread(
                send_email, self.settings, item.destination, body=json.loads(item.body)
            )
        await self._record(item, attempt, outcome)
        return True

    async def _record(self, item: outbox.Due, attempt: int, outcome: Outcome) -> None:
        now = self._clock()
        if outcome.delivered:
            self.delivered += 1
            await asyncio.to_thread(outbox.delivered, self.engine, item.id, now=now)
            log.info("notified %s: %s (attempt %d)", item.destination, item.event_id, attempt)
            return
        give_up = timedelta(hours=self.settings.notify_give_up_h)
        if outcome.permanent or now - item.created_at >= give_up:
            self.failed += 1
            why = "refused" if outcome.permanent else "gave up"
            log.error(
                "notification %s to %s %s after %d attempt(s): %s",
                item.event_id,
                item.destination,
                why,
                attempt,
                outcome.error,
            )
            await asyncio.to_thread(
                outbox.give_up, self.engine, item.id, now=now, error=outcome.error
            )
            return
        delay = self.backoff(attempt, outcome.retry_after_s)
        log.warning(
            "notification %s to %s failed (attempt %d, next in %.0fs): %s",
            item.event_id,
            item.destination,
            attempt,
            delay,
            outcome.error,
        )
        await asyncio.to_thread(
            outbox.retry_at,
            self.engine,
            item.id,
            when=now + timedelta(seconds=delay),
            error=outcome.error,
        )

    def backoff(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds before attempt ``attempt + 1``: doubling, jittered, capped."""
        base: float = self.settings.notify_retry_min_s * 2.0 ** min(attempt - 1, 30)
        delay = min(base, self.settings.notify_retry_max_s) * self._jitter()
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return min(delay, self.settings.notify_retry_max_s)

    async def _drop(self, item: outbox.Due, now: datetime, why: str) -> None:
        log.warning("notification %s to %s dropped: %s", item.event_id, item.destination, why)
        await asyncio.to_thread(
            outbox.give_up, self.engine, item.id, now=now, error=why, state="dropped"
        )
