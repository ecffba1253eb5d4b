"""Clearing a retained command once its exhibit has reported what it did with it.

A retained command comes again on every reconnect of its exhibit until the broker drops
it at its MQTT v5 expiry. Once ingestion has committed an exhibit's ``CommandDone``
(:mod:`fleet_api.store.commands`), the fleet deletes the retained message: an empty
retained payload on the exhibit's command topic, acknowledged by the broker. It does so
only while that command is still the newest one sent to the exhibit and not cleared yet,
holding the exhibit's row as :func:`fleet_api.outbound.send_command` does while it
publishes, so a newer command published meanwhile is never wiped out. A clear the
broker does not acknowledge is logged and left: the command still expires by itself,
and the agent runs each command id once anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine

from broker.messages import utc_now
from broker.topics import Channel, exhibit_topic
from fleet_api.errors import BrokerUnavailable
from fleet_api.inbound import MessageSource
from fleet_api.store.commands import DoneCommand, lock_commands_of, mark_cleared, still_retained

log = logging.getLogger(__name__)


def clear_done(
    engine: Engine, source: MessageSource, done: Sequence[DoneCommand], *, timeout_s: float
) -> int:
    """Delete the retained commands of ``done`` that are still the newest; how many were."""
    cleared = 0
    for command in done:
        with engine.begin() as connection:
            lock_commands_of(connection, command.exhibit_id)
            if not still_retained(connection, command):
                continue  # a newer command holds the topic now, or it is cleared already
            try:
                source.publish(
                    exhibit_topic(command.exhibit_id, Channel.COMMAND),
                    b"",
                    retain=True,
                    timeout_s=timeout_s,
                )
            except BrokerUnavailable as exc:
                log.warning(
                    "command %s of %s stays retained until it expires: %s",
                    command.command_id,
                    command.exhibit_id,
                    exc,
                )
                continue
            mark_cleared(connection, command, at=utc_now())
            cleared += 1
    return cleared
