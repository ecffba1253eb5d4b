"""What the fleet tells an exhibit: its visit assignment, commands and configuration, retained.

- ``assignment``: the visit the exhibit is checked out to (``visit_id`` None: checked in).
  Stored in the outbox, so it survives reboots, and tagged onto every new record until
  cleared. An assignment issued before the one held is ignored (a late redelivery).
- ``command``: ``identify`` (blink the LED for ``seconds``) or ``self_test`` (a window of
  ``seconds``, see ``device.ops.selftest``). Retained messages come again on every
  reconnect, so each ``command_id`` runs once only: it is written to the outbox before
  it runs (at most once: a power cut mid-identify does not blink again). What became of
  it is reported once (``CommandDone`` on the ``done`` channel, kept in the outbox until
  the broker acknowledged it), and the fleet then clears the retained message:

  ==========================  ==========================================================
  outcome                     when
  ==========================  ==========================================================
  ``expired``                 the clock is synced and past ``expires_at`` (a command
                              without one: issued more than ``command_max_age_s`` ago)
  ``refused_in_visit``        a self-test while the exhibit holds a visit assignment,
                              without ``force``: the school's presses are not a test's
  ``refused_unknown_age``     a forced self-test in a visit whose age nobody can judge:
                              the clock is unsynced and the delivery carried no MQTT v5
                              expiry (the broker's clock drops a command at its expiry,
                              so one that arrives with time left is fresh)
  ``ran``                     otherwise; an unsynced clock runs an identify (a blink
                              harms nobody) and a self-test outside a visit (its result
                              reports every interaction it took)
  ==========================  ==========================================================

An empty retained payload (the fleet deleting the retained message) is ignored.

- ``config``: the fleet's newest configuration; ``device.ops.remote_config`` checks it,
  holds it through a visit (unless ``force``) or an open self-test window, and applies it.
  A ``self_test`` arriving once a version is applied, before the agent is rebuilt for it,
  is left alone (not run, not noted): the rebuild would cut its window, and the retained
  command comes again to the new agent.

- ``resend`` (its own retained topic, so no other command can take its place): the fleet
  lacks the records from ``from_seq`` on (restored from a backup, or a technician asked);
  the confirmed records still held from there are sent again (``device.outbox.retention``). Run
  once per ``command_id``, noted in the same way, whatever its age: a fleet that lost
  data wants it back however long the exhibit was away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from broker.errors import MessageError, TopicError
from broker.topics import Channel, exhibit_topic, parse
from device.core.clock import Clock
from device.gpio.indicator import Indicator
from device.ops.remote_config import RemoteConfig
from device.ops.selftest import SelfTests
from device.outbox.state import AgentState
from device.settings.config import AgentSettings
from device.wire.codec import Assignment, Command, command_done_payload, decode_inbound
from device.wire.configs import ConfigRefused, ExhibitConfig
from device.wire.custody import Resend

log = logging.getLogger(__name__)


def subscriptions(settings: AgentSettings) -> tuple[str, ...]:
    """The topics an agent subscribes to (its own assignment, command, custody, resend,
    config)."""
    return (
        exhibit_topic(settings.exhibit_id, Channel.ASSIGNMENT),
        exhibit_topic(settings.exhibit_id, Channel.COMMAND),
        exhibit_topic(settings.exhibit_id, Channel.CUSTODY),
        exhibit_topic(settings.exhibit_id, Channel.RESEND),
        exhibit_topic(settings.exhibit_id, Channel.CONFIG),
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
        configs: RemoteConfig | None = None,
    ) -> None:
        self.settings = settings
        self._state = state
        self._self_tests = self_tests
        self._indicator = indicator
        self._clock = clock
        self._synced = synced
        self._resend = resend
        self._configs = configs

    def handle(self, topic: str, payload: bytes, expiry_s: int | None = None) -> bool:
        """Act on one message; True if the visit assignment changed.

        ``expiry_s``: the MQTT v5 Message Expiry Interval the delivery carried, if any.
        """
        if not payload:
            return False
        refusal = None
        try:
            where = parse(topic)
            message = decode_inbound(where.channel, payload)
        except ConfigRefused as exc:  # a good envelope: the fleet hears why
            message, refusal = exc.config, exc.detail
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
            self._command(message, expiry_s)
        if isinstance(message, Resend):
            self._resend_from(message)
        if isinstance(message, ExhibitConfig) and self._configs is not None:
            self._configs.offer(message, refusal)
        return False

    def _assign(self, assignment: Assignment) -> bool:
        if not self._state.assign(assignment):
            return False
        if assignment.visit_id is None:
            log.info("visit assignment cleared")
        else:
            log.info("assigned to visit %d", assignment.visit_id)
        if self._configs is not None:
            self._configs.visit_changed()  # a configuration held for the visit goes on now
        return True

    def _command(self, command: Command, expiry_s: int | None) -> None:
        if self._state.ran(command.command_id):
            return  # the retained command again, after a reconnect
        if command.action == "self_test" and self._configs and self._configs.applied is not None:
            return  # a rebuild would cut its window: the new agent gets it again (retained)
        now = self._clock.wall()
        outcome = self._judge(command, now, expiry_s)
        report = command_done_payload(
            command,
            outcome=outcome,
            at=now,
            clock_synced=self._synced(),
            visit_id=self._state.visit_id,
        )
        self._state.note_command(command, outcome=outcome, at=now, report=report)
        if outcome != "ran":
            log.warning(
                "not running %s %s: %s (visit %s, clock synced: %s, broker expiry: %s)",
                command.action,
                command.command_id,
                outcome,
                self._state.visit_id,
                self._synced(),
                expiry_s,
            )
            return
        log.info("command %s: %s for %.0fs", command.command_id, command.action, command.seconds)
        if command.action == "identify":
            self._indicator.identify(command.seconds)
        else:
            self._self_tests.start(command.command_id, command.seconds)

    def _judge(self, command: Command, now: datetime, expiry_s: int | None) -> str:
        """The command's outcome (see the module docstring)."""
        synced = self._synced()
        if synced:
            expires_at = command.expires_at or command.issued_at + timedelta(
                seconds=self.settings.command_max_age_s
            )
            if now >= expires_at:
                return "expired"
        if command.action == "self_test" and self._state.visit_id is not None:
            if not command.force:
                return "refused_in_visit"
            if not synced and expiry_s is None:
                return "refused_unknown_age"
        return "ran"

    def _resend_from(self, request: Resend) -> None:
        if self._resend is None or self._state.ran(request.command_id):
            return  # the retained request again, after a reconnect
        now = self._clock.wall()
        log.info("resend %s: records from seq %d", request.command_id, request.from_seq)
        with self._state.transaction():  # noted and requeued together, or neither
            self._state.note_command(request, outcome="run", at=now)
            self._resend(request.from_seq)
