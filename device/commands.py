"""What the fleet tells an exhibit: its visit assignment and commands, both retained.

- ``assignment``: the visit the exhibit is checked out to (``visit_id`` None: checked in).
  Stored in the outbox, so it survives reboots, and tagged onto every new record until
  cleared. An assignment issued before the one held is ignored (a late redelivery).
- ``command``: ``identify`` (blink the LED for ``seconds``) or ``self_test`` (a window of
  ``seconds``, see ``device.selftest``). Retained messages come again on every
  reconnect, so each ``command_id`` runs once only: it is written to the outbox before
  it runs (at most once: a power cut mid-identify does not blink again). A command
  issued more than ``command_max_age_s`` ago is skipped, but only when the clock is
  synced: an unsynced clock cannot tell its age.

An empty retained payload (the fleet deleting the retained message) is ignored.

- ``resend`` (its own retained topic, so no other command can take its place): the fleet
  lacks the records from ``from_seq`` on (restored from a backup, or a technician asked);
  the confirmed records still held from there are sent again (``device.retention``). Run
  once per ``command_id``, noted in the same way, whatever its age: a fleet that lost
  data wants it back however long the exhibit was away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from broker.errors import MessageError, TopicError
from broker.topics import Channel, exhibit_topic, parse
from device.clock import Clock
from device.config import AgentSettings
from device.indicator import Indicator
from device.selftest import SelfTests
from device.state import AgentState
from device.wire import Assignment, Command, decode_inbound
from device.wire_custody import Resend

log = logging.getLogger(__name__)


def subscriptions(settings: AgentSettings) -> tuple[str, ...]:
    """The topics an agent subscribes to (its own assignment, command, custody, resend)."""
    return (
        exhibit_topic(settings.exhibit_id, Channel.ASSIGNMENT),
        exhibit_topic(settings.exhibit_id, Channel.COMMAND),
        exhibit_topic(settings.exhibit_id, Channel.CUSTODY),
        exhibit_topic(settings.exhibit_id, Channel.RESEND),
    )


class CommandHandler:
    """Acts on the messages of the agent's subscriptions (called by the worker only)."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        state: AgentState,
        self_tests: SelfTests,
        indicator: Indicator,
        clock: Clock,
        synced: Callable[[], bool],
        resend: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self._state = state
        self._self_tests = self_tests
        self._indicator = indicator
        self._clock = clock
        self._synced = synced
        self._resend = resend

    def handle(self, topic: str, payload: bytes) -> bool:
        """Act on one message; True if the visit assignment changed."""
        if not payload:
            return False
        try:
            where = parse(topic)
            message = decode_inbound(where.channel, payload)
        except (TopicError, MessageError) as exc:
            log.warning("ignoring a message on %s: %s", topic, exc)
            return False
        if self.settings.exhibit_id != where.exhibit_id or (
            self.settings.exhibit_id != message.exhibit_id
        ):
            log.warning("ignoring a message on %s addressed to another exhibit", topic)
            return False
        if isinstance(message, Assignment):
            return self._assign(message)
        if isinstance(message, Command):
            self._command(message)
        if isinstance(message, Resend):
            self._resend_from(message)
        return False

    def _assign(self, assignment: Assignment) -> bool:
        if not self._state.assign(assignment):
            return False
        if assignment.visit_id is None:
            log.info("visit assignment cleared")
        else:
            log.info("assigned to visit %d", assignment.visit_id)
        return True

    def _command(self, command: Command) -> None:
        if self._state.ran(command.command_id):
            return  # the retained command again, after a reconnect
        now = self._clock.wall()
        age = (now - command.issued_at).total_seconds()
        if self._synced() and age > self.settings.command_max_age_s:
            log.warning("skipping %s %s: issued %.0fs ago", command.action, command.command_id, age)
            self._state.note_command(command, outcome="expired", at=now)
            return
        self._state.note_command(command, outcome="run", at=now)
        log.info("command %s: %s for %.0fs", command.command_id, command.action, command.seconds)
        if command.action == "identify":
            self._indicator.identify(command.seconds)
        else:
            self._self_tests.start(command.command_id, command.seconds)

    def _resend_from(self, request: Resend) -> None:
        if self._resend is None or self._state.ran(request.command_id):
            return  # the retained request again, after a reconnect
        now = self._clock.wall()
        log.info("resend %s: records from seq %d", request.command_id, request.from_seq)
        with self._state.transaction():  # noted and requeued together, or neither
            self._state.note_command(request, outcome="run", at=now)
            self._resend(request.from_seq)
