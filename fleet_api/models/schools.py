"""School models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fleet_api.models.fields import Text200


class SchoolCreate(BaseModel):
    """A school the exhibits travel to."""

    model_config = ConfigDict(extra="forbid")

    name: Text200
    municipality: Text200
    region: Text200


class SchoolPublic(BaseModel):
    """A stored school."""

    id: int
    name: str
    municipality: str
    region: str
