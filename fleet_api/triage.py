"""Sort received messages into ones to store and ones to quarantine, without a database.

The checks, in order: the topic is one of ours (``unknown_topic``), the payload decodes
for that topic's channel (``decode``'s reasons: ``oversized``, ``malformed``,
``schema_version``, ``invalid``; the contract bounds every value to what our columns
hold, NUL characters included), and names the same
exhibit as the topic, which is the one the broker authenticated (``topic_mismatch``).
Whether the exhibit is registered needs the database: see :mod:`fleet_api.store.ingest`.
"""

from __future__ import annotations

from dataclasses import dataclass

from broker.errors import MessageError, TopicError
from broker.messages import (
    CommandDone,
    ConfigReport,
    CountBatch,
    Heartbeat,
    SelfTestResult,
    Status,
    decode,
)
from broker.topics import Channel, parse
from fleet_api.inbound import Inbound, QuarantineReason

INGESTED_CHANNELS = (
    Channel.COUNTS,
    Channel.STATUS,
    Channel.HEARTBEAT,
    Channel.SELFTEST,
    Channel.DONE,
    Channel.CONFIGURED,
)

Ingested = CountBatch | Status | Heartbeat | SelfTestResult | CommandDone | ConfigReport


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message that passed every check that needs no database."""

    inbound: Inbound
    message: Ingested


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message to quarantine, with a reason code and a human-readable detail."""

    inbound: Inbound
    reason: str
    detail: str


def triage(inbound: Inbound) -> Accepted | Rejected:
    """Decode ``inbound`` against its topic; never raises for bad input."""
    try:
        topic = parse(inbound.topic)
    except TopicError as exc:
        return Rejected(inbound, QuarantineReason.UNKNOWN_TOPIC, str(exc))
    if topic.channel not in INGESTED_CHANNELS:
        return Rejected(
            inbound,
            QuarantineReason.UNKNOWN_TOPIC,
            f"topic {inbound.topic!r}: the {topic.channel.value} channel is not ingested",
        )
    try:
        message = decode(topic.channel, inbound.payload)
    except MessageError as exc:
        return Rejected(inbound, exc.reason, exc.detail)
    if not isinstance(message, Ingested):  # pragma: no cover - decode follows the channel
        return Rejected(inbound, QuarantineReason.UNKNOWN_TOPIC, f"{type(message).__name__}")
    if message.exhibit_id != topic.exhibit_id:
        return Rejected(
            inbound,
            QuarantineReason.TOPIC_MISMATCH,
            f"payload exhibit_id {message.exhibit_id!r} differs from the topic's "
            f"{topic.exhibit_id!r}",
        )
    return Accepted(inbound, message)
