"""``/healthz`` and ``/ingest/stats``: is the service working, and what has it ingested."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from fleet_api.db import ping
from fleet_api.deps import AUTH_RESPONSES, EngineDep, IngestorDep, IngestStatsDep, ReadAccess
from fleet_api.errors import DatabaseError
from fleet_api.models.service import HealthPublic, IngestStatsPublic

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
def ingest_stats(stats: IngestStatsDep, ingestor: IngestorDep) -> IngestStatsPublic:
    """Messages, records and quarantined messages (per reason) since the API started."""
    return stats.public(connected=ingestor is not None and ingestor.connected)
