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


class QuarantineStatsPublic(BaseModel):
    """What the quarantine holds now and what its bounds removed, fleet-wide, since they
    exist (``FLEET_QUARANTINE_*``: a rate per exhibit, a total size, a retention)."""

    rows: int = Field(default=0, description="messages held")
    bytes: int = Field(default=0, description="bytes held (payloads, details, topics)")
    dropped_rate: int = Field(
        default=0, description="messages not kept: their exhibit was over its hourly rate"
    )
    dropped_size: int = Field(
        default=0,
        description="messages removed, oldest of the biggest sender first, to keep the total size",
    )
    expired: int = Field(default=0, description="messages removed after the retention")


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
    unexpected_errors: int = Field(
        description="failed writes that were neither the database's absence nor the data's"
    )
    conflicts: int = Field(description="records that reused a stored seq with another body")
    quarantined: dict[str, int]
    quarantine: QuarantineStatsPublic
