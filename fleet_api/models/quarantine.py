"""Quarantined messages as the API shows them: the payload as text when it is UTF-8."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class QuarantinedPublic(BaseModel):
    """A message ingestion set aside, why, and what it carried.

    ``payload`` is the payload decoded as UTF-8 when it is valid UTF-8, else base64
    (``payload_encoding`` says which). Lists show at most the first
    ``PREVIEW_BYTES`` of it (``payload_truncated``); ``GET /quarantine/{id}`` shows all
    that was kept (the first 256 KiB of an oversized message).
    """

    id: int
    received_at: datetime
    topic: str
    reason: str = Field(description="a reason code, e.g. malformed, unknown_exhibit")
    detail: str
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    payload_bytes: int = Field(description="how many bytes of the payload were kept")
    payload_truncated: bool = Field(description="whether ``payload`` shows only the start")
    exhibit_id: str | None = Field(
        default=None, description="the exhibit whose topic it came on (None: not one of ours)"
    )
    stored: list[dict[str, Any]] | None = Field(
        default=None,
        description="a conflict's other body: the records stored under the same seqs, kept",
    )
