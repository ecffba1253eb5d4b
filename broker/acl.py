"""Who may publish, subscribe to and read what: the broker roles, built from ``broker.topics``.

Three kinds of account:

- an **exhibit** (username = exhibit id) publishes only the channels an agent sends,
  under its own id, and subscribes to and reads only the channels the fleet sends to
  it, under its own id. Its role names every topic literally: no wildcard, no ``$share``;
- a **service** (the fleet ingest, the API) reads every channel of every exhibit,
  publishes only the channels the fleet sends (configuration, commands, custody
  acknowledgements and resend requests), and may join exactly one shared
  subscription group, the deployment's random one (nobody can guess it, so nobody can
  join it by name even where an ACL slips);
- the **admin** account of ``fleet-api broker`` sends dynamic-security commands on
  ``$CONTROL`` and reads their answers, nothing else.

These lists are Mosquitto dynamic-security ACLs (``broker/dynsec.py``), checked by the
broker separately for SUBSCRIBE (a refused filter gets SUBACK 0x87), for each PUBLISH a
client sends (PUBACK 0x87) and for each message delivered. Everything not listed is
refused (the document's default access is "deny" for all four). Mosquitto 2.0.11's
plugin substitutes no ``%u``/``%c`` in topics, so each exhibit has a role of its own.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from broker.errors import TopicError
from broker.topics import EXHIBIT_ID_PATTERN, Channel, exhibit_topic, subscription

_ACCOUNT_NAME = re.compile(EXHIBIT_ID_PATTERN)
SHARE_GROUP_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_SHARE_GROUP = re.compile(SHARE_GROUP_PATTERN)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"

SERVICE_ROLE = "fleet-service"
ADMIN_ROLE = "fleet-broker-admin"
ADMIN_USERNAME = "fleet:broker-admin"
"""The ``:`` keeps it out of the exhibit-id namespace: no exhibit can ever be called this."""
EXHIBIT_ROLE_PREFIX = "exhibit:"


class Role(StrEnum):
    """What a broker account is for; decides its ACLs."""

    EXHIBIT = "exhibit"
    SERVICE = "service"


class AclType(StrEnum):
    """The dynamic-security plugin's ACL types (Mosquitto 2.0.11, plugins/dynamic-security)."""

    PUBLISH_SEND = "publishClientSend"
    PUBLISH_RECEIVE = "publishClientReceive"
    SUBSCRIBE_LITERAL = "subscribeLiteral"
    SUBSCRIBE_PATTERN = "subscribePattern"
    UNSUBSCRIBE_LITERAL = "unsubscribeLiteral"
    UNSUBSCRIBE_PATTERN = "unsubscribePattern"


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """One allow rule of a role."""

    acltype: AclType
    topic: str

    def as_json(self) -> dict[str, object]:
        """The rule as the plugin's commands and config file spell it."""
        return {"acltype": self.acltype.value, "topic": self.topic, "priority": 0, "allow": True}


def publisher(channel: Channel) -> Role:
    """Which role publishes on ``channel`` (the other one only reads it)."""
    # An exhaustive match: a channel added to broker.topics fails mypy here until
    # someone decides who may write it, instead of silently getting no ACL.
    match channel:
        case (
            Channel.COUNTS
            | Channel.STATUS
            | Channel.HEARTBEAT
            | Channel.SELFTEST
            | Channel.DONE
            | Channel.CONFIGURED
        ):
            return Role.EXHIBIT
        case (
            Channel.ASSIGNMENT | Channel.COMMAND | Channel.CUSTODY | Channel.RESEND | Channel.CONFIG
        ):
            # Only the fleet configures an exhibit: a pupil holding one exhibit's SD card
            # can neither rewire it nor any other.
            return Role.SERVICE
        case _:
            assert_never(channel)


def validate_account_name(name: str) -> str:
    """Return ``name`` if it can be a broker username (the exhibit-id rule), else raise."""
    # One rule for both roles keeps usernames free of '+', '#', '/', ':' and spaces,
    # which would be wildcards or separators in a topic and role names.
    if not _ACCOUNT_NAME.fullmatch(name):
        raise TopicError(
            f"account name {name!r} is not valid: use 1-64 lowercase letters, digits "
            "and inner hyphens, e.g. 'exhibit-001' or 'fleet-ingest'"
        )
    return name


def validate_share_group(group: str) -> str:
    """Return ``group`` if it can name an MQTT v5 shared subscription, else raise."""
    if not _SHARE_GROUP.fullmatch(group):
        raise TopicError(
            f"share group {group!r} is not valid: use 1-64 letters, digits, '-' or '_'"
        )
    return group


def new_share_group() -> str:
    """A share group name nobody can guess: ``ingest-`` and 128 random bits."""
    return "ingest-" + secrets.token_urlsafe(16)


def role_name(name: str, role: Role) -> str:
    """The dynamic-security role an account holds: its own for an exhibit, one for services."""
    return f"{EXHIBIT_ROLE_PREFIX}{name}" if role is Role.EXHIBIT else SERVICE_ROLE


def exhibit_acls(name: str) -> tuple[Acl, ...]:
    """Exhibit ``name``: publish its own outgoing channels; subscribe to, read its own commands."""
    acls: list[Acl] = []
    for channel in Channel:
        topic = exhibit_topic(validate_account_name(name), channel)
        if publisher(channel) is Role.EXHIBIT:
            acls.append(Acl(AclType.PUBLISH_SEND, topic))
        else:
            acls += [
                Acl(AclType.PUBLISH_RECEIVE, topic),
                Acl(AclType.SUBSCRIBE_LITERAL, topic),
                Acl(AclType.UNSUBSCRIBE_LITERAL, topic),
            ]
    return tuple(sorted(acls))


def service_acls(share_group: str) -> tuple[Acl, ...]:
    """Services: read every exhibit channel, plainly or in ``share_group``; send the fleet's."""
    validate_share_group(share_group)
    acls: list[Acl] = []
    for channel in Channel:
        every = subscription(channel)
        shared = subscription(channel, share_group=share_group)
        acls += [Acl(AclType.PUBLISH_RECEIVE, every)]
        for topic_filter in (every, shared):
            acls += [
                Acl(AclType.SUBSCRIBE_PATTERN, topic_filter),
                Acl(AclType.UNSUBSCRIBE_PATTERN, topic_filter),
            ]
        if publisher(channel) is Role.SERVICE:
            acls.append(Acl(AclType.PUBLISH_SEND, every))
    return tuple(sorted(acls))


def share_group_of(acls: tuple[Acl, ...] | list[Acl]) -> str | None:
    """The share group a service role admits (read back from its ACLs), if any."""
    for acl in acls:
        if acl.acltype is AclType.SUBSCRIBE_PATTERN and acl.topic.startswith("$share/"):
            return acl.topic.split("/", 2)[1]
    return None


ADMIN_ACLS: tuple[Acl, ...] = tuple(
    sorted(
        (
            Acl(AclType.PUBLISH_SEND, CONTROL_TOPIC),
            Acl(AclType.PUBLISH_RECEIVE, CONTROL_RESPONSE_TOPIC),
            Acl(AclType.SUBSCRIBE_LITERAL, CONTROL_RESPONSE_TOPIC),
            Acl(AclType.UNSUBSCRIBE_LITERAL, CONTROL_RESPONSE_TOPIC),
        )
    )
)
"""``fleet-api broker``: dynamic-security commands and their answers, nothing else."""
