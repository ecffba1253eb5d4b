"""What the fleet tells exhibits: check-out and check-in of a visit, and commands.

Each message is retained, QoS 1, and published through the ingest connection
(:meth:`fleet_api.inbound.MessageSource.publish`), which waits for the broker's
PUBACK. The database records only what the broker acknowledged, so what the fleet
believes an exhibit was told is never more than what it was told. Publishing again is
harmless (retained, and the agent runs each command id once), so after a
:class:`fleet_api.errors.BrokerUnavailable` the caller simply repeats the request.
Each check-out, check-in and command is recorded in the audit trail with what the
broker acknowledged; checking in also marks the visit held.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from broker.messages import Assignment, Command, Message, utc_now
from broker.topics import Channel, exhibit_topic
from fleet_api.errors import BrokerUnavailable, ExhibitCheckedOut, ExhibitInRunningVisit
from fleet_api.inbound import MessageSource
from fleet_api.models.commands import EXPIRES_IN_S, CommandPublic
from fleet_api.models.visits import VisitPublic, VisitStatus
from fleet_api.store.audit import Actor, record_change
from fleet_api.store.commands import lock_commands_of, record_command
from fleet_api.store.exhibits import get_exhibit
from fleet_api.store.visit_changes import (
    assignments_of,
    holding,
    mark_visit,
    record_assignment,
    refuse_cancelled,
    running_elsewhere,
    set_status,
)
from fleet_api.store.visits import get_visit

M = TypeVar("M", bound=Message)


def check_out(
    session: Session,
    publisher: MessageSource | None,
    *,
    visit_id: int,
    timeout_s: float,
    actor: Actor,
    now: datetime | None = None,
) -> VisitPublic:
    """Send each exhibit of the visit its retained assignment; record it when all are acked.

    ExhibitCheckedOut if an exhibit is still checked out to another visit,
    ExhibitInRunningVisit if another (not cancelled) visit of one of its exhibits is
    running now, VisitCancelled if the visit is cancelled.
    """
    visit = get_visit(session, visit_id=visit_id, now=now)
    refuse_cancelled(visit)
    issued_at = now or utc_now()
    busy = {
        exhibit_id: other
        for exhibit_id, other in assignments_of(session, visit.exhibit_ids).items()
        if other is not None and other != visit.id
    }
    if busy:
        exhibit_id, other = min(busy.items())
        raise ExhibitCheckedOut(
            f"exhibit {exhibit_id!r} is checked out to visit {other}: check that visit in "
            f"first (POST /visits/{other}/checkin)",
            exhibit_id=exhibit_id,
            visit_id=other,
        )
    running = running_elsewhere(
        session, visit_id=visit.id, exhibit_ids=visit.exhibit_ids, at=issued_at
    )
    if running:
        exhibit_id, other = min(running.items())
        raise ExhibitInRunningVisit(
            f"exhibit {exhibit_id!r} is in visit {other}, which is running now: checking out "
            f"visit {visit.id} would count that visit's interactions here. Refused, not "
            f"deferred: check out visit {visit.id} once visit {other} has ended",
            exhibit_id=exhibit_id,
            visit_id=other,
        )
    _send_assignments(
        session, _require(publisher), visit, visit.exhibit_ids, visit.id, issued_at, timeout_s
    )
    mark_visit(session, visit_id=visit.id, checked_out_at=issued_at, checked_in_at=None)
    record_change(
        session.connection(),
        actor=actor,
        action="visit.checkout",
        entity="visit",
        entity_id=visit.id,
        before=_checkout_state(visit),
        after={
            "checked_out_at": issued_at.isoformat(),
            "checked_in_at": None,
            "exhibits_told": visit.exhibit_ids,
        },
        at=issued_at,
    )
    session.commit()
    return get_visit(session, visit_id=visit.id, now=now)


def _checkout_state(visit: VisitPublic) -> dict[str, object]:
    return {
        "checked_out_at": visit.checked_out_at.isoformat() if visit.checked_out_at else None,
        "checked_in_at": visit.checked_in_at.isoformat() if visit.checked_in_at else None,
    }


def check_in(
    session: Session,
    publisher: MessageSource | None,
    *,
    visit_id: int,
    timeout_s: float,
    actor: Actor,
    now: datetime | None = None,
) -> VisitPublic:
    """Clear the retained assignment of each exhibit that still holds the visit, and mark
    the visit held (unless it is cancelled).

    An exhibit of the visit checked out to another visit meanwhile is left alone; one
    taken off the visit after check-out is cleared too.
    """
    visit = get_visit(session, visit_id=visit_id, now=now)
    issued_at = now or utc_now()
    assigned = assignments_of(session, visit.exhibit_ids)
    # Also exhibits taken off the visit after it was checked out: they still hold it.
    mine = sorted(
        {e for e in visit.exhibit_ids if assigned.get(e, visit.id) in (visit.id, None)}
        | set(holding(session, visit_id=visit.id))
    )
    _send_assignments(session, _require(publisher), visit, mine, None, issued_at, timeout_s)
    mark_visit(
        session, visit_id=visit.id, checked_out_at=visit.checked_out_at, checked_in_at=issued_at
    )
    record_change(
        session.connection(),
        actor=actor,
        action="visit.checkin",
        entity="visit",
        entity_id=visit.id,
        before=_checkout_state(visit),
        after={
            "checked_out_at": _checkout_state(visit)["checked_out_at"],
            "checked_in_at": issued_at.isoformat(),
            "exhibits_told": mine,
        },
        at=issued_at,
    )
    if visit.status is not VisitStatus.CANCELLED:
        set_status(
            session,
            visit_id=visit.id,
            status=VisitStatus.HELD,
            actor=actor,
            reason=None,
            action="visit.held",
            now=issued_at,
        )
    session.commit()
    return get_visit(session, visit_id=visit.id, now=now)


def publish_retained_and_record(
    connection: Connection,
    publisher: MessageSource | None,
    *,
    exhibit_id: str,
    channel: Channel,
    build: Callable[[Connection], M],
    record: Callable[[Connection, M], None],
    timeout_s: float,
    expiry_s: int | None = None,
) -> M:
    """Hold the exhibit's row, build the message, publish it retained on the exhibit's
    ``channel`` and wait for the broker's PUBACK, then record it; the message sent.

    The row is held from before ``build`` (a version is chosen under it) until the
    caller commits, so two senders to one exhibit take turns, in the order the broker
    holds their messages. BrokerUnavailable (no publisher, or no PUBACK within
    ``timeout_s``): nothing is recorded. ``expiry_s``: the MQTT v5 Message Expiry Interval.
    """
    source = _require(publisher)
    lock_commands_of(connection, exhibit_id)
    message = build(connection)
    source.publish(
        exhibit_topic(exhibit_id, channel),
        message.to_payload(),
        retain=True,
        timeout_s=timeout_s,
        expiry_s=expiry_s,
    )
    record(connection, message)
    return message


def require_publisher(publisher: MessageSource | None) -> MessageSource:
    """``publisher``, or BrokerUnavailable saying how to get one."""
    return _require(publisher)


def _require(publisher: MessageSource | None) -> MessageSource:
    if publisher is None:
        raise BrokerUnavailable(
            "sending to exhibits needs the MQTT connection of ingestion: set FLEET_MQTT_URL "
            "and keep FLEET_INGEST_ENABLED=true"
        )
    return publisher


def _send_assignments(
    session: Session,
    publisher: MessageSource,
    visit: VisitPublic,
    exhibit_ids: list[str],
    assigned_to: int | None,
    issued_at: datetime,
    timeout_s: float,
) -> None:
    done: list[str] = []
    for exhibit_id in exhibit_ids:
        message = Assignment(exhibit_id=exhibit_id, visit_id=assigned_to, issued_at=issued_at)
        try:
            publisher.publish(
                exhibit_topic(exhibit_id, Channel.ASSIGNMENT),
                message.to_payload(),
                retain=True,
                timeout_s=timeout_s,
            )
        except BrokerUnavailable as exc:
            # Keep what the broker did acknowledge: those exhibits were told.
            session.commit()
            told = ", ".join(done) or "none"
            raise BrokerUnavailable(
                f"{exc} (visit {visit.id}: exhibits told so far: {told}; repeat the request)"
            ) from None
        record_assignment(session, exhibit_id=exhibit_id, visit_id=assigned_to, issued_at=issued_at)
        done.append(exhibit_id)


def send_command(
    session: Session,
    publisher: MessageSource | None,
    *,
    exhibit_id: str,
    action: Literal["identify", "self_test"],
    seconds: float,
    timeout_s: float,
    actor: Actor,
    expires_in_s: float = EXPIRES_IN_S,
    force: bool = False,
    now: datetime | None = None,
) -> CommandPublic:
    """Publish a retained command to one exhibit and remember it once acknowledged.

    It expires ``expires_in_s`` after now twice over: the broker drops the retained
    message then (MQTT v5 Message Expiry Interval, the broker's clock) and an exhibit
    with a synced clock checks ``expires_at``. ``force``: self-test even in a visit.
    The exhibit's row is held while publishing, so the clearing of an older command
    (:mod:`fleet_api.command_clearing`) cannot wipe this one out.
    """
    get_exhibit(session, exhibit_id=exhibit_id)  # UnknownExhibit
    issued_at = now or utc_now()
    command = Command(
        exhibit_id=exhibit_id,
        command_id=uuid.uuid4().hex,
        action=action,
        seconds=seconds,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(seconds=expires_in_s),
        force=True if force else None,
    )
    publish_retained_and_record(
        session.connection(),
        publisher,
        exhibit_id=exhibit_id,
        channel=Channel.COMMAND,
        build=lambda _connection: command,
        record=lambda connection, sent: record_command(connection, command=sent),
        timeout_s=timeout_s,
        expiry_s=max(1, math.ceil(expires_in_s)),
    )
    record_change(
        session.connection(),
        actor=actor,
        action="exhibit.command",
        entity="exhibit",
        entity_id=exhibit_id,
        after={
            "command_id": command.command_id,
            "action": action,
            "seconds": seconds,
            "expires_at": (issued_at + timedelta(seconds=expires_in_s)).isoformat(),
            "force": force,
        },
        at=command.issued_at,
    )
    session.commit()
    return CommandPublic(**command.model_dump(exclude={"schema_version", "force"}), force=force)


def self_test_visit(
    session: Session,
    publisher: MessageSource | None,
    *,
    visit_id: int,
    seconds: float,
    timeout_s: float,
    actor: Actor,
    now: datetime | None = None,
) -> list[CommandPublic]:
    """Start a self-test on every exhibit of the visit (trip readiness's one button).

    Each exhibit's command is recorded as soon as the broker acknowledged it; if the
    broker stops answering half-way, the error names the exhibits already told, and
    repeating the request is safe (each exhibit just runs a newer self-test).

    Forced (run even by an exhibit already checked out to the visit) only while the visit
    is at least the command's lifetime away: it expires before the first pupil arrives.
    Once the visit is that close or running, an exhibit holding it refuses the test.
    """
    visit = get_visit(session, visit_id=visit_id)
    _require(publisher)
    issued_at = now or utc_now()
    before_start = visit.starts_at - issued_at >= timedelta(seconds=EXPIRES_IN_S)
    sent: list[CommandPublic] = []
    for exhibit_id in visit.exhibit_ids:
        try:
            sent.append(
                send_command(
                    session,
                    publisher,
                    exhibit_id=exhibit_id,
                    action="self_test",
                    seconds=seconds,
                    timeout_s=timeout_s,
                    actor=actor,
                    expires_in_s=EXPIRES_IN_S,
                    force=before_start,
                    now=issued_at,
                )
            )
        except BrokerUnavailable as exc:
            session.rollback()
            told = ", ".join(command.exhibit_id for command in sent) or "none"
            raise BrokerUnavailable(
                f"{exc} (visit {visit.id}: self-tests started so far: {told}; repeat the request)"
            ) from None
    return sent
