"""``/fleet/health`` and ``/exhibits/{id}/health``: what technicians look at.

Online or offline from the retained status (and how long since anything was heard),
the latest heartbeat's health, outbox backlog, the assignment last sent, received seq
gaps, the latest self-test, and alerts with thresholds from ``FLEET_HEALTH_*``.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from broker.messages import utc_now
from fleet_api.alerts import Thresholds
from fleet_api.deps import AUTH_RESPONSES, ReadAccess, SessionDep, SettingsDep
from fleet_api.models.health import ExhibitHealthDetail, FleetHealth
from fleet_api.problems import problem_responses
from fleet_api.routes.exhibits import ExhibitPath
from fleet_api.settings import Settings
from fleet_api.store import fleet_health as store

router = APIRouter(tags=["fleet health"], dependencies=[ReadAccess], responses=AUTH_RESPONSES)


def thresholds(settings: Settings) -> Thresholds:
    """The alert thresholds of ``settings``."""
    return Thresholds(
        offline_grace=timedelta(seconds=settings.health_offline_grace_s),
        low_disk_bytes=settings.health_low_disk_bytes,
        outbox_backlog=settings.health_outbox_backlog,
        current_agent_version=settings.agent_current_version,
    )


@router.get("/fleet/health")
def fleet_health(session: SessionDep, settings: SettingsDep) -> FleetHealth:
    """Every exhibit's health, by id, with counts of online, offline and warnings."""
    return store.fleet_health(session, thresholds=thresholds(settings), now=utc_now())


@router.get("/exhibits/{exhibit_id}/health", responses=problem_responses(404, 422))
def exhibit_health(
    exhibit_id: ExhibitPath, session: SessionDep, settings: SettingsDep
) -> ExhibitHealthDetail:
    """One exhibit's health with its seq gaps, the last day of heartbeats and its commands."""
    return store.exhibit_health(
        session, exhibit_id=exhibit_id, thresholds=thresholds(settings), now=utc_now()
    )
