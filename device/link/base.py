"""The agent's seam to the broker: a tiny protocol, so unit tests use a recording fake.

The real implementation is ``device.link.mqtt.MqttLink`` (paho). A link connects and
reconnects on its own, subscribes again on every connection, and every successful
connection is a new *session*, numbered upwards. Events come back through
``LinkEvents`` from the link's own threads, so an implementation of ``LinkEvents`` must
only hand them off.

Publishing names the session the caller believes is live; a link refuses (returns
None) if another session is live by now. That way a message id can never be taken for
one of a newer connection, whose ids restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Publication:
    """One MQTT message to send."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class LinkEvents(Protocol):
    """What a link reports; called from the link's threads."""

    def link_connected(self, session: int) -> None:
        """Session ``session`` is up (the birth message and subscriptions are queued first)."""
        ...

    def link_disconnected(self, session: int, reason: str) -> None:
        """Session ``session`` is gone; its unacknowledged messages are forgotten."""
        ...

    def link_refused(self, reason: str) -> None:
        """The broker refused to connect (bad credentials, not authorised); it will retry."""
        ...

    def link_subscribed(self, session: int, refused: dict[str, str]) -> None:
        """The broker answered the subscriptions of ``session`` (SUBACK): ``refused`` maps
        each topic filter it refused to its reason (empty: all granted)."""
        ...

    def link_acked(self, session: int, mid: int, accepted: bool, reason: str = "") -> None:
        """The broker answered message ``mid`` of ``session`` (PUBACK; False: refused)."""
        ...

    def link_message(
        self, session: int, topic: str, payload: bytes, expiry_s: int | None = None
    ) -> None:
        """A message arrived on one of the link's subscriptions.

        ``expiry_s``: the seconds left of its MQTT v5 Message Expiry Interval, as the
        broker says (its clock, not ours), or None if it carries none.
        """
        ...


class Link(Protocol):
    """A connection to the broker that keeps itself up."""

    def start(self, events: LinkEvents) -> None:
        """Begin connecting in the background; report through ``events``."""
        ...

    def publish(self, session: int, message: Publication) -> int | None:
        """Send ``message`` on ``session``; its message id, or None if that session is gone."""
        ...

    def close(self, *, farewell: Publication | None, timeout: float, abrupt: bool = False) -> None:
        """Stop: send ``farewell`` and disconnect cleanly, or drop the socket if ``abrupt``."""
        ...


def refusals(topics: Sequence[str], reason_codes: Sequence[Any]) -> dict[str, str]:
    """The topic filters a SUBACK refused (one reason code per filter, in order), with the
    broker's reason: ``Not authorized`` (0x87) from an ACL, ``Unspecified error`` (0x80)
    from an MQTT 3.1.1 broker, which gives no reason."""
    return {
        topic: str(code)
        for topic, code in zip(topics, reason_codes, strict=False)
        if code.is_failure
    }
