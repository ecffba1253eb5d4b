"""What became of each command, reported to the fleet until the broker has it.

``device.ops.commands`` decides a command's outcome (ran, expired, refused in a visit,
refused for an unknown age) and ``device.outbox.state`` keeps its ``CommandDone`` in the outbox,
in the transaction that notes the command. ``CommandReports`` sends them, oldest first
and one at a time, QoS 1 on the exhibit's ``done`` channel, and drops each on the
broker's PUBACK; after a reconnect, what is left goes again (the fleet stores a report
once per command, so a repeat changes nothing). The fleet clears the retained command
once it has stored the report.
"""

from __future__ import annotations

from device.link.base import Publication
from device.outbox.state import AgentState
from device.runtime.sender import Sender


class CommandReports:
    """Sends the pending ``CommandDone`` reports through the worker's sender."""

    def __init__(self, state: AgentState, sender: Sender, topic: str) -> None:
        self._state = state
        self._sender = sender
        self._topic = topic
        self._sending: bytes | None = None

    def reset(self) -> None:
        """The connection changed: what was in flight is sent again."""
        self._sending = None

    def pump(self) -> None:
        """Publish the oldest pending report unless one is already in flight."""
        if self._sending is not None or self._sender.session is None:
            return
        pending = self._state.pending_reports()
        if not pending:
            return
        payload = pending[0]

        def delivered() -> None:
            self._state.report_delivered(payload)
            self._sending = None

        message = Publication(self._topic, payload, qos=1, retain=False)
        if self._sender.publish_other(message, delivered):
            self._sending = payload

    @property
    def pending(self) -> int:
        """Reports not yet acknowledged by the broker."""
        return len(self._state.pending_reports())
