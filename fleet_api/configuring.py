"""Push a configuration to an exhibit: checked, versioned, published retained, audited.

The document is checked with the agent's own rules (:mod:`broker.exhibit_config`), so
what the API accepts the agent can apply, and what it refuses it refuses with the line
the agent would give. The exhibit's row is held while the version is chosen and
published (:func:`fleet_api.outbound.publish_retained_and_record`, as commands are), so
two technicians pushing at once get versions n and n+1, in the order the broker holds
them. Only what the broker acknowledged is recorded; the exhibit's
``expected_config_hash`` becomes the new hash and its registered inputs the new count
names, so fleet health and trip readiness judge the exhibit against it
(:mod:`fleet_api.config_drift`). Publishing again after a ``BrokerUnavailable`` is safe:
nothing was recorded, and the retained message is replaced by the next version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from broker.exhibit_config import config_hash, count_names, describe, problems
from broker.messages import ExhibitConfig, utc_now
from broker.topics import Channel
from fleet_api.errors import InvalidConfig
from fleet_api.inbound import MessageSource
from fleet_api.models.configs import ConfigVersionPublic
from fleet_api.outbound import publish_retained_and_record
from fleet_api.store.audit import Actor, record_change
from fleet_api.store.configs import history, next_version, record_config
from fleet_api.store.exhibits import get_exhibit
from fleet_api.tables import exhibits


def check_config(document: dict[str, Any]) -> None:
    """InvalidConfig with the agent's one line if ``document`` breaks its rules."""
    found = problems(document)
    if found:
        raise InvalidConfig(describe(found))


def push_config(
    session: Session,
    publisher: MessageSource | None,
    *,
    exhibit_id: str,
    document: dict[str, Any],
    force: bool,
    timeout_s: float,
    actor: Actor,
    now: datetime | None = None,
) -> ConfigVersionPublic:
    """Publish ``document`` as the exhibit's next version (retained), then record it."""
    exhibit = get_exhibit(session, exhibit_id=exhibit_id)  # UnknownExhibit
    check_config(document)
    connection = session.connection()
    message = publish_retained_and_record(
        connection,
        publisher,
        exhibit_id=exhibit_id,
        channel=Channel.CONFIG,
        build=lambda held: ExhibitConfig(
            exhibit_id=exhibit_id,
            version=next_version(held, exhibit_id),
            config_hash=config_hash(document),
            config=document,
            issued_at=now or utc_now(),
            force=True if force else None,
        ),
        record=lambda held, sent: record_config(held, message=sent, issued_by=actor.name),
        timeout_s=timeout_s,
    )
    names = count_names(document)
    connection.execute(
        exhibits.update()
        .where(exhibits.c.id == exhibit_id)
        .values(expected_config_hash=message.config_hash, inputs=names)
    )
    record_change(
        connection,
        actor=actor,
        action="exhibit.config",
        entity="exhibit",
        entity_id=exhibit_id,
        before={
            "expected_config_hash": exhibit.expected_config_hash,
            "inputs": exhibit.inputs,
        },
        after={
            "version": message.version,
            "expected_config_hash": message.config_hash,
            "inputs": names,
            "force": force,
            "config": document,
        },
        at=message.issued_at,
    )
    session.commit()
    return history(session.connection(), exhibit_id=exhibit_id, limit=1)[0]
