"""``resend``: the fleet asks an exhibit to send its records again, from a seq on.

A technician asks (``POST /exhibits/{id}/resend``, ``fleet-api resend``), or
``fleet-api restore`` asks every exhibit for what the restored database lacks
(:func:`fleet_api.store.resend.lacking_from`). The request goes out as a retained
``Resend`` (QoS 1) on the exhibit's resend channel; the agent acts on each command id
once, making the records it holds from ``from_seq`` on pending again, and they come back
through ingestion like any others (duplicates change nothing: seq).

Every request is stored (:mod:`fleet_api.tables_custody`) and audited. The API publishes
at once and records the broker's acknowledgement; a request made without the broker
(the CLI, a restore) is stored unsent, and :class:`ResendSender`, running beside
ingestion, publishes what is unsent as soon as the broker is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine

from broker.messages import Resend, utc_now
from broker.topics import Channel, exhibit_topic
from fleet_api.errors import BrokerUnavailable
from fleet_api.inbound import MessageSource
from fleet_api.models.resend import ResendPublic
from fleet_api.store.audit import Actor, record_change
from fleet_api.store.commands import lock_commands_of
from fleet_api.store.resend import (
    ResendRow,
    lacking_from,
    mark_sent,
    pending_floor,
    record_request,
    unsent,
)

log = logging.getLogger(__name__)

Reason = Literal["technician", "restore"]
POLL_S = 5.0
"""How often the service looks for unsent requests while connected."""


def request_resend(
    connection: Connection,
    publisher: MessageSource | None,
    *,
    exhibit_id: str,
    from_seq: int | None,
    reason: Reason,
    actor: Actor,
    timeout_s: float = 5.0,
    now: datetime | None = None,
) -> ResendPublic:
    """Store (and, given a publisher, publish) a resend request for a registered exhibit.

    ``from_seq`` None: from the first seq the fleet lacks. The caller commits; with a
    publisher, BrokerUnavailable if the broker did not acknowledge it (nothing stored).
    """
    at = now or utc_now()
    wanted = (
        from_seq if from_seq is not None else lacking_from(connection, [exhibit_id])[exhibit_id]
    )
    lock_commands_of(connection, exhibit_id)  # one request at a time per exhibit
    earlier = pending_floor(connection, exhibit_id=exhibit_id)
    row = ResendRow(
        command_id=uuid.uuid4().hex,
        exhibit_id=exhibit_id,
        from_seq=wanted if earlier is None else min(wanted, earlier),
        reason=reason,
        requested_at=at,
        sent_at=None,
    )
    if publisher is not None:
        _publish(publisher, row, timeout_s=timeout_s)
        row = replace(row, sent_at=utc_now())
    record_request(connection, row)
    record_change(
        connection,
        actor=actor,
        action="exhibit.resend",
        entity="exhibit",
        entity_id=exhibit_id,
        after={
            "command_id": row.command_id,
            "from_seq": row.from_seq,
            "asked_from_seq": wanted,
            "reason": reason,
            "sent": row.sent_at is not None,
        },
        at=at,
    )
    return ResendPublic.model_validate(row, from_attributes=True)


def send_pending(engine: Engine, publisher: MessageSource, *, timeout_s: float) -> int:
    """Publish the unsent requests, one per exhibit (the lowest ``from_seq`` of its unsent
    under the newest id); how many exhibits were told. Stops at the first broker failure."""
    with engine.connect() as connection:
        rows = unsent(connection)
    by_exhibit: dict[str, list[ResendRow]] = {}
    for row in rows:
        by_exhibit.setdefault(row.exhibit_id, []).append(row)
    told = 0
    for exhibit_id, waiting in sorted(by_exhibit.items()):
        newest = waiting[-1]
        merged = replace(newest, from_seq=min(row.from_seq for row in waiting))
        _publish(publisher, merged, timeout_s=timeout_s)
        with engine.begin() as connection:
            mark_sent(connection, [row.command_id for row in waiting], at=utc_now())
        log.info("asked %s to resend from seq %d (%s)", exhibit_id, merged.from_seq, newest.reason)
        told += 1
    return told


class ResendSender:
    """Beside ingestion: publishes unsent resend requests whenever the broker is there."""

    def __init__(
        self, engine: Engine, source: MessageSource, *, timeout_s: float, poll_s: float = POLL_S
    ) -> None:
        self._engine = engine
        self._source = source
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start polling; call from the event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fleet-resend")

    async def stop(self) -> None:
        """Stop polling."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            if self._source.connected:
                try:
                    await asyncio.to_thread(
                        send_pending, self._engine, self._source, timeout_s=self._timeout_s
                    )
                except Exception as exc:  # noqa: BLE001 - stays unsent, tried again
                    log.warning("resend requests wait: %s", str(exc).splitlines()[0])
            await asyncio.sleep(self._poll_s)


def _publish(publisher: MessageSource, row: ResendRow, *, timeout_s: float) -> None:
    message = Resend(
        exhibit_id=row.exhibit_id,
        command_id=row.command_id,
        from_seq=row.from_seq,
        issued_at=row.requested_at,
    )
    try:
        publisher.publish(
            exhibit_topic(row.exhibit_id, Channel.RESEND),
            message.to_payload(),
            retain=True,
            timeout_s=timeout_s,
        )
    except BrokerUnavailable as exc:
        raise BrokerUnavailable(
            f"{exc} (resend for {row.exhibit_id}: repeat the request)"
        ) from None
