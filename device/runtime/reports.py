"""What became of each command and configuration, reported to the fleet until the broker
has it.

``device.ops.commands`` decides a command's outcome (ran, expired, refused in a visit,
refused for an unknown age) and ``device.outbox.state`` keeps its ``CommandDone`` in the outbox,
in the transaction that notes the command; ``device.ops.remote_config`` does the same for
a configuration's ``ConfigReport`` (applied, waiting, refused). ``CommandReports`` sends
each kind on its own channel (``done``, ``configured``), oldest first and one at a time,
QoS 1, and drops each on the broker's PUBACK; after a reconnect, what is left goes again
(the fleet stores a report once, so a repeat changes nothing). The fleet clears the
retained command once it has stored the report.
"""

from __future__ import annotations

from collections.abc import Callable

from broker.topics import Channel, exhibit_topic
from device.link.base import Publication
from device.outbox.state import AgentState
from device.runtime.sender import Sender


class _Stream:
    """One channel's pending reports, one in flight at a time."""

    def __init__(
        self, topic: str, pending: Callable[[], list[bytes]], delivered: Callable[[bytes], None]
    ) -> None:
        self.topic = topic
        self.pending = pending
        self.delivered = delivered
        self.sending: bytes | None = None


class CommandReports:
    """Sends the pending ``CommandDone`` and ``ConfigReport`` reports through the sender."""

    def __init__(self, state: AgentState, sender: Sender, exhibit_id: str) -> None:
        self._sender = sender
        self._streams = (
            _Stream(
                exhibit_topic(exhibit_id, Channel.DONE),
                state.pending_reports,
                state.report_delivered,
            ),
            _Stream(
                exhibit_topic(exhibit_id, Channel.CONFIGURED),
                state.pending_config_reports,
                state.config_report_delivered,
            ),
        )

    def reset(self) -> None:
        """The connection changed: what was in flight is sent again."""
        for stream in self._streams:
            stream.sending = None

    def pump(self) -> None:
        """Publish each channel's oldest pending report unless one is already in flight."""
        for stream in self._streams:
            self._pump(stream)

    def _pump(self, stream: _Stream) -> None:
        if stream.sending is not None or self._sender.session is None:
            return
        pending = stream.pending()
        if not pending:
            return
        payload = pending[0]

        def delivered() -> None:
            stream.delivered(payload)
            stream.sending = None

        message = Publication(stream.topic, payload, qos=1, retain=False)
        if self._sender.publish_other(message, delivered):
            stream.sending = payload

    @property
    def pending(self) -> int:
        """Reports not yet acknowledged by the broker."""
        return sum(len(stream.pending()) for stream in self._streams)
