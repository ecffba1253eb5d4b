"""Shared FastAPI dependencies as ``Annotated`` aliases: ``SessionDep``, ``SettingsDep``, ...

They read what the lifespan put on ``app.state``; nothing is built at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fleet_api.errors import DatabaseError
from fleet_api.ingest import Ingestor, IngestStats
from fleet_api.settings import Settings, get_settings


def get_engine(request: Request) -> Engine:
    """The engine the lifespan created."""
    engine: Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        raise DatabaseError("the database is not open: the app's lifespan has not run")
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session for one request; data-access functions commit what they change."""
    with Session(engine) as session:
        yield session


def get_ingestor(request: Request) -> Ingestor | None:
    """The running ingestion, or None when it is disabled."""
    ingestor: Ingestor | None = getattr(request.app.state, "ingestor", None)
    return ingestor


def get_ingest_stats(request: Request) -> IngestStats:
    """Ingestion counters (all zero when ingestion is disabled)."""
    stats: IngestStats | None = getattr(request.app.state, "ingest_stats", None)
    return stats or IngestStats()


EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
IngestorDep = Annotated[Ingestor | None, Depends(get_ingestor)]
IngestStatsDep = Annotated[IngestStats, Depends(get_ingest_stats)]
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, description="skip this many items first")]
