"""Audit trail models: one entry per change, and the filters of ``GET /audit``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Entity = Literal["visit", "school", "exhibit", "programme", "token", "record"]
"""What an entry is about (``record``: decisions on unplaced records)."""


class AuditEntry(BaseModel):
    """One change: who made it (token id, name and role then), when, through what, what
    it was and the values before and after (only the fields that changed)."""

    id: int
    at: datetime
    actor_token_id: int | None = Field(description="the token used; None for a program")
    actor_name: str
    actor_role: str | None
    via: Literal["api", "page", "cli", "system"]
    action: str = Field(description="e.g. visit.create, visit.cancel, visit.checkout")
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of the trail; None matches anything. ``start`` included, ``end`` excluded."""

    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor_token_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
