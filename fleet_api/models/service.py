"""Models about the service itself: health and ingestion counters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthPublic(BaseModel):
    """Whether the database answers and whether ingestion is connected to the broker."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    database_detail: str | None = None
    ingestion: Literal["connected", "disconnected", "disabled"]


class IngestStatsPublic(BaseModel):
    """Counters since the API started; ``quarantined`` has every known reason, zero or not."""

    enabled: bool
    connected: bool
    messages: int
    batches: int
    records_received: int
    records_inserted: int
    records_duplicate: int
    acked: int
    custody_sent: int = Field(
        description="custody acknowledgements sent to exhibits (one per exhibit per batch)"
    )
    storage_errors: int
    quarantined: dict[str, int]
