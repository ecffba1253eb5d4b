"""Exhibit models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from fleet_api.models.fields import ExhibitId, Text200


class ExhibitCreate(BaseModel):
    """Register an exhibit under the id its Pi uses in MQTT topics."""

    model_config = ConfigDict(extra="forbid")

    id: ExhibitId
    name: Text200


class ExhibitStatusPublic(BaseModel):
    """The latest status and heartbeat seen from an exhibit."""

    online: bool | None
    status_at: datetime | None
    last_seen_at: datetime
    boot_id: str | None
    agent_version: str | None


class ExhibitPublic(BaseModel):
    """A registered exhibit; ``status`` is None until it has said anything."""

    id: str
    name: str
    created_at: datetime
    status: ExhibitStatusPublic | None = None
