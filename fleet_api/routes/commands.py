"""``/exhibits/{id}/commands``: make an exhibit blink (identify) or test its inputs.

A command is published retained, QoS 1, with an expiry (``expires_in_s``, 10 minutes by
default: the broker drops it then, and a synced exhibit checks it), and recorded once
the broker acknowledged it; the agent runs each command id once, refuses a self-test
while it is checked out to a visit unless ``force``, and reports what it did
(``outcome``), after which the retained command is cleared. A self-test's result comes
back on the exhibit's ``selftest`` channel with the presses it took out of the counts
(``taken``) and shows in ``GET /exhibits/{id}/health``.

``/exhibits/{id}/resend`` asks the exhibit to send again what it still holds from a seq
on (:mod:`fleet_api.resend`): by default from the first seq the fleet lacks.
"""

from __future__ import annotations

from fastapi import APIRouter

from fleet_api.deps import (
    AUTH_RESPONSES,
    ApiActor,
    PublisherDep,
    ReadAccess,
    SessionDep,
    SettingsDep,
    TechnicianAccess,
)
from fleet_api.models.commands import CommandCreate, CommandPublic
from fleet_api.models.resend import ResendCreate, ResendPublic
from fleet_api.outbound import require_publisher, send_command
from fleet_api.problems import problem_responses
from fleet_api.resend import request_resend
from fleet_api.routes.exhibits import ExhibitPath
from fleet_api.store.commands import recent_commands
from fleet_api.store.exhibits import get_exhibit
from fleet_api.store.resend import recent_requests

router = APIRouter(
    prefix="/exhibits", tags=["commands"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)


@router.post(
    "/{exhibit_id}/commands",
    status_code=202,
    dependencies=[TechnicianAccess],
    responses=problem_responses(404, 422, 503),
)
def create_command(
    exhibit_id: ExhibitPath,
    command: CommandCreate,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    actor: ApiActor,
) -> CommandPublic:
    """Send a command; 202: the broker holds it for the exhibit, which may be offline."""
    return send_command(
        session,
        publisher,
        exhibit_id=exhibit_id,
        action=command.action,
        seconds=command.seconds,
        timeout_s=settings.mqtt_publish_timeout_s,
        actor=actor,
        expires_in_s=command.expires_in_s,
        force=command.force,
    )


@router.get("/{exhibit_id}/commands", responses=problem_responses(404, 422))
def list_commands(exhibit_id: ExhibitPath, session: SessionDep) -> list[CommandPublic]:
    """The exhibit's latest commands (at most 50), newest first, with self-test results."""
    get_exhibit(session, exhibit_id=exhibit_id)
    return recent_commands(session.connection(), exhibit_id=exhibit_id, limit=50)


@router.post(
    "/{exhibit_id}/resend",
    status_code=202,
    dependencies=[TechnicianAccess],
    responses=problem_responses(404, 422, 503),
)
def create_resend(
    exhibit_id: ExhibitPath,
    request: ResendCreate,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    actor: ApiActor,
) -> ResendPublic:
    """Ask the exhibit to send its records again from ``from_seq``; 202: the broker holds
    the request (retained) for the exhibit, which acts on it once, even if offline now."""
    get_exhibit(session, exhibit_id=exhibit_id)
    made = request_resend(
        session.connection(),
        require_publisher(publisher),
        exhibit_id=exhibit_id,
        from_seq=request.from_seq,
        reason="technician",
        actor=actor,
        timeout_s=settings.mqtt_publish_timeout_s,
    )
    session.commit()
    return made


@router.get("/{exhibit_id}/resend", responses=problem_responses(404, 422))
def list_resends(exhibit_id: ExhibitPath, session: SessionDep) -> list[ResendPublic]:
    """The exhibit's latest resend requests (at most 20), newest first."""
    get_exhibit(session, exhibit_id=exhibit_id)
    return [
        ResendPublic.model_validate(row, from_attributes=True)
        for row in recent_requests(session.connection(), exhibit_id=exhibit_id)
    ]
