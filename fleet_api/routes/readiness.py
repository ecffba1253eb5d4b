"""``/visits/{id}/readiness`` and ``/visits/{id}/self-test``: the technician's 7 am check.

Readiness checks every exhibit of the visit (state, agent version, configuration, last
self-test and its age, clock, disk, power, backlog: :mod:`fleet_api.readiness`) and is
``ready`` only when all of them are. One request starts a self-test on every exhibit.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Body

from broker.messages import utc_now
from fleet_api.deps import (
    AUTH_RESPONSES,
    ApiActor,
    PublisherDep,
    ReadAccess,
    SessionDep,
    SettingsDep,
    TechnicianAccess,
)
from fleet_api.models.commands import CommandPublic
from fleet_api.models.readiness import SelfTestAll, VisitReadiness
from fleet_api.outbound import self_test_visit
from fleet_api.problems import problem_responses
from fleet_api.readiness import Limits
from fleet_api.routes.fleet import thresholds
from fleet_api.routes.visits import VisitPath
from fleet_api.settings import Settings
from fleet_api.store.readiness import visit_readiness

router = APIRouter(
    prefix="/visits", tags=["trip readiness"], dependencies=[ReadAccess], responses=AUTH_RESPONSES
)


def readiness_limits(settings: Settings) -> Limits:
    """What counts as ready, from ``settings``."""
    return Limits(
        low_disk_bytes=settings.health_low_disk_bytes,
        outbox_backlog=settings.health_outbox_backlog,
        self_test_max_age=timedelta(hours=settings.readiness_self_test_max_age_h),
    )


@router.get("/{visit_id}/readiness", responses=problem_responses(404, 422))
def get_readiness(
    visit_id: VisitPath, session: SessionDep, settings: SettingsDep
) -> VisitReadiness:
    """Every exhibit of the visit, each check ready / not ready / unknown; ``ready`` only if
    every check of every exhibit is ready."""
    return visit_readiness(
        session,
        visit_id=visit_id,
        thresholds=thresholds(settings),
        limits=readiness_limits(settings),
        now=utc_now(),
    )


@router.post(
    "/{visit_id}/self-test",
    status_code=202,
    dependencies=[TechnicianAccess],
    responses=problem_responses(404, 422, 503),
)
def self_test_all(
    visit_id: VisitPath,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    actor: ApiActor,
    body: SelfTestAll | None = Body(default=None),  # noqa: B008 - FastAPI's way
) -> list[CommandPublic]:
    """Start a self-test on every exhibit of the visit; their results show in the readiness.

    Each exhibit waits ``seconds`` (default ``FLEET_READINESS_SELF_TEST_S``) for its inputs
    to be pressed. 202: the broker holds the commands for exhibits that are offline.
    """
    seconds = (
        settings.readiness_self_test_s if body is None or body.seconds is None else body.seconds
    )
    return self_test_visit(
        session,
        publisher,
        visit_id=visit_id,
        seconds=seconds,
        timeout_s=settings.mqtt_publish_timeout_s,
        actor=actor,
    )
