"""Every MQTT topic of the fleet is built and parsed here, and nowhere else.

Layout (``{id}`` is an exhibit id):

    fleet/v1/exhibits/{id}/counts      agent -> fleet  QoS 1   CountBatch
    fleet/v1/exhibits/{id}/status      agent -> fleet  QoS 1   Status, retained (birth / last will)
    fleet/v1/exhibits/{id}/heartbeat   agent -> fleet  QoS 0   Heartbeat
    fleet/v1/exhibits/{id}/assignment  fleet -> agent  QoS 1   Assignment, retained
    fleet/v1/exhibits/{id}/command     fleet -> agent  QoS 1   Command, retained (run once per id)
    fleet/v1/exhibits/{id}/selftest    agent -> fleet  QoS 1   SelfTestResult, retained
    fleet/v1/exhibits/{id}/custody     fleet -> agent  QoS 1   Custody (what the fleet has stored)
    fleet/v1/exhibits/{id}/resend      fleet -> agent  QoS 1   Resend, retained (run once per id)
    fleet/v1/exhibits/{id}/done        agent -> fleet  QoS 1   CommandDone (what a command came to)
    fleet/v1/exhibits/{id}/config      fleet -> agent  QoS 1   ExhibitConfig, retained (newest)
    fleet/v1/exhibits/{id}/configured  agent -> fleet  QoS 1   ConfigReport (what became of it)

The exhibit id in the topic is the one the broker's ACL authenticates, so ingestion
rejects a payload whose ``exhibit_id`` disagrees with its topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from broker.errors import TopicError

ROOT = "fleet/v1/exhibits"
EXHIBIT_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
_EXHIBIT_ID = re.compile(EXHIBIT_ID_PATTERN)


class Channel(StrEnum):
    """The last level of an exhibit topic: what kind of message travels on it."""

    COUNTS = "counts"
    STATUS = "status"
    HEARTBEAT = "heartbeat"
    ASSIGNMENT = "assignment"
    COMMAND = "command"
    SELFTEST = "selftest"
    CUSTODY = "custody"
    RESEND = "resend"
    DONE = "done"
    CONFIG = "config"
    CONFIGURED = "configured"


@dataclass(frozen=True, slots=True)
class ExhibitTopic:
    """A parsed exhibit topic."""

    exhibit_id: str
    channel: Channel


def validate_exhibit_id(exhibit_id: str) -> str:
    """Return ``exhibit_id`` if it can stand in a topic, else raise TopicError."""
    if not _EXHIBIT_ID.fullmatch(exhibit_id):
        raise TopicError(
            f"exhibit id {exhibit_id!r} is not valid: use 1-64 lowercase letters, digits "
            "and inner hyphens, e.g. 'exhibit-001'"
        )
    return exhibit_id


def exhibit_topic(exhibit_id: str, channel: Channel) -> str:
    """Build the topic an exhibit's ``channel`` travels on."""
    return f"{ROOT}/{validate_exhibit_id(exhibit_id)}/{channel.value}"


def subscription(channel: Channel, *, share_group: str | None = None) -> str:
    """Topic filter matching ``channel`` of every exhibit, optionally as an MQTT v5 shared one."""
    pattern = f"{ROOT}/+/{channel.value}"
    return f"$share/{share_group}/{pattern}" if share_group else pattern


def parse(topic: str) -> ExhibitTopic:
    """Parse an exhibit topic; raise TopicError for anything that is not one of ours."""
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        raise TopicError(f"topic {topic!r} is not under {ROOT!r}")
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 2:
        raise TopicError(f"topic {topic!r} is not {ROOT}/<exhibit-id>/<channel>")
    exhibit_id, channel = parts
    try:
        parsed_channel = Channel(channel)
    except ValueError:
        raise TopicError(f"topic {topic!r} has unknown channel {channel!r}") from None
    return ExhibitTopic(validate_exhibit_id(exhibit_id), parsed_channel)
