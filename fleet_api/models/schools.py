"""School models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fleet_api.models.fields import Text200, refuse_null

Area = Literal["rural", "urban"]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SchoolCreate(BaseModel):
    """A school the exhibits travel to."""

    model_config = ConfigDict(extra="forbid")

    name: Text200
    municipality: Text200
    region: Text200
    address: Address | None = None
    area: Area | None = Field(default=None, description="whether the school is rural or urban")


class SchoolUpdate(BaseModel):
    """Change a school: only the fields given change; ``null`` clears address or area.

    ``archived: true`` archives it (no new visits; its visits and history stay),
    ``false`` restores it.
    """

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    municipality: Text200 | None = None
    region: Text200 | None = None
    address: Address | None = None
    area: Area | None = None
    archived: bool | None = Field(default=None, description="true to archive, false to restore")

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        refuse_null(self, ("name", "municipality", "region", "archived"))
        return self


class SchoolPublic(BaseModel):
    """A stored school."""

    id: int
    name: str
    municipality: str
    region: str
    address: str | None = None
    area: Area | None = None
    archived_at: datetime | None = Field(default=None, description="set while it is archived")
