"""``/exhibits/{id}/config``: push a configuration to an exhibit, and read its history.

``PUT`` (technician) checks the document with the agent's own rules, gives it the next
version, publishes it retained on the exhibit's ``config`` channel and records it once the
broker acknowledged it; the exhibit applies it (after its visit, unless ``force``) and
reports ``applied``, ``waiting`` or ``refused`` with its reason, which ``GET`` shows per
version. Fleet health and trip readiness compare the newest version with what the
exhibit runs (``config``, ``config_version``).

The agent (``device/ops/remote_config.py``) refuses a document that does not fit its
local settings with the reason, holds a version through a visit unless ``force``, and
applies it atomically, rebuilding itself (docs/controller.md, "Configuration from the
fleet").
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from fleet_api.configuring import push_config
from fleet_api.deps import (
    AUTH_RESPONSES,
    LIST_RESPONSES,
    ApiActor,
    Limit,
    Offset,
    PublisherDep,
    ReadAccess,
    SessionDep,
    SettingsDep,
    TechnicianAccess,
    set_total,
)
from fleet_api.models.configs import ConfigPut, ConfigVersionPublic
from fleet_api.problems import problem_responses
from fleet_api.routes.exhibits import ExhibitPath
from fleet_api.store.configs import count_versions, history
from fleet_api.store.exhibits import get_exhibit

router = APIRouter(
    prefix="/exhibits", tags=["configuration"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)


@router.put(
    "/{exhibit_id}/config",
    status_code=202,
    dependencies=[TechnicianAccess],
    responses=problem_responses(404, 422, 503),
)
def put_config(
    exhibit_id: ExhibitPath,
    body: ConfigPut,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    actor: ApiActor,
) -> ConfigVersionPublic:
    """Send a new configuration; 202: the broker holds it for the exhibit, which may be off.

    The exhibit answers on ``configured``: ``applied`` (its birth then gives the version),
    ``waiting`` (in a visit, without ``force``) or ``refused`` with its reason.
    """
    return push_config(
        session,
        publisher,
        exhibit_id=exhibit_id,
        document=body.config,
        force=body.force,
        timeout_s=settings.mqtt_publish_timeout_s,
        actor=actor,
    )


@router.get("/{exhibit_id}/config", responses=LIST_RESPONSES | problem_responses(404, 422))
def get_config_history(
    exhibit_id: ExhibitPath,
    session: SessionDep,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[ConfigVersionPublic]:
    """Every version pushed to the exhibit, newest first, with what the exhibit reported."""
    get_exhibit(session, exhibit_id=exhibit_id)
    set_total(response, count_versions(session.connection(), exhibit_id=exhibit_id))
    return history(session.connection(), exhibit_id=exhibit_id, limit=limit, offset=offset)
