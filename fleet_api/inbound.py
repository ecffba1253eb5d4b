"""What ingestion receives, from whom, and why it may refuse it.

A :class:`MessageSource` delivers :class:`Inbound` messages from its own thread and
acknowledges each one only when told to, after its batch is committed. The fleet's
few messages to exhibits (retained assignments and commands) go out through the same
connection with :meth:`MessageSource.publish`. The real
source is :class:`fleet_api.mqtt_source.MqttSource` (the one module importing paho);
unit tests use a fake that records calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from broker.messages import utc_now


class QuarantineReason(StrEnum):
    """Why a message was set aside instead of stored; the first four come from ``decode``."""

    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    SCHEMA_VERSION = "schema_version"
    INVALID = "invalid"
    UNKNOWN_TOPIC = "unknown_topic"
    TOPIC_MISMATCH = "topic_mismatch"
    UNKNOWN_EXHIBIT = "unknown_exhibit"
    STORAGE_REJECTED = "storage_rejected"
    """The database refused a message that passed every check (a constraint, a value)."""
    OUT_OF_RANGE = "out_of_range"
    """A wall or monotonic time no Pi can have (:mod:`fleet_api.plausibility`)."""
    SEQ_JUMP = "seq_jump"
    """A seq implausibly far past the exhibit's highest (``FLEET_INGEST_MAX_SEQ_JUMP``)."""
    CONFLICT = "conflict"
    """A stored (exhibit, seq) arrived again with another body; both bodies are kept."""
    STORAGE_ERROR = "storage_error"
    """Storing it failed unexpectedly, again and again: set aside so the rest goes on."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as received: raw topic and payload, plus what acking it needs."""

    topic: str
    payload: bytes
    qos: int = 1
    mid: int = 0
    received_at: datetime = field(default_factory=utc_now)
    session: int = 0
    """Which connection delivered it: an ack is only valid on that same connection."""


Deliver = Callable[[Inbound], None]


class MessageSource(Protocol):
    """Where ingestion gets messages from; ``deliver`` may be called from any thread."""

    def start(self, deliver: Deliver) -> None:
        """Connect (retrying in the background) and deliver every message received."""
        ...

    def ack(self, message: Inbound) -> None:
        """Acknowledge ``message`` to the broker: it is stored and must not come again."""
        ...

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker for next time."""
        ...

    def send(self, topic: str, payload: bytes) -> None:
        """Publish QoS 1, not retained, without waiting: a custody acknowledgement.

        Dropped while disconnected (the exhibit sends its records again, and they are
        confirmed then). Called from the ingestion task; never blocks on the broker.
        """
        ...

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool,
        timeout_s: float,
        expiry_s: int | None = None,
    ) -> None:
        """Publish QoS 1 on the same connection and wait for the broker's PUBACK.

        ``expiry_s``: the MQTT v5 Message Expiry Interval, so the broker drops a retained
        command nobody received in time (by the broker's clock). Raise
        :class:`fleet_api.errors.BrokerUnavailable` if not connected, refused, or not
        acknowledged within ``timeout_s``. Safe to call from any thread.
        """
        ...

    @property
    def connected(self) -> bool:
        """Whether the source is connected right now."""
        ...
