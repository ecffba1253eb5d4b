"""``/healthz`` and ``/ingest/stats``: is the service working, and what has it ingested."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Response

from fleet_api.db import ping
from fleet_api.deps import (
    AUTH_RESPONSES,
    EngineDep,
    IngestorDep,
    IngestStatsDep,
    ReadAccess,
    SessionDep,
)
from fleet_api.errors import DatabaseError
from fleet_api.models.service import HealthPublic, IngestStatsPublic, QuarantineStatsPublic
from fleet_api.store import quarantine_bounds

router = APIRouter(tags=["service"])


@router.get("/healthz", responses={503: {"model": HealthPublic}})
def healthz(engine: EngineDep, ingestor: IngestorDep, response: Response) -> HealthPublic:
    """200 when the database answers (503 if not); also says if ingestion is connected."""
    ingestion: Literal["connected", "disconnected", "disabled"]
    if ingestor is None:
        ingestion = "disabled"
    else:
        ingestion = "connected" if ingestor.connected else "disconnected"
    try:
        ping(engine)
    except DatabaseError as exc:
        response.status_code = 503
        return HealthPublic(
            status="unavailable",
            database="unreachable",
            database_detail=str(exc),
            ingestion=ingestion,
        )
    return HealthPublic(status="ok", database="ok", ingestion=ingestion)


@router.get("/ingest/stats", dependencies=[ReadAccess], responses=AUTH_RESPONSES)
def ingest_stats(
    stats: IngestStatsDep, ingestor: IngestorDep, session: SessionDep
) -> IngestStatsPublic:
    """Messages, records and quarantined messages (per reason) since the API started, and
    what the quarantine holds and dropped (fleet-wide)."""
    held = quarantine_bounds.totals(session.connection())
    return stats.public(
        connected=ingestor is not None and ingestor.connected,
        quarantine=QuarantineStatsPublic(**asdict(held)),
    )
