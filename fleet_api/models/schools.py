"""School models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet_api.models.fields import Flag, Text200, TextRules, not_null, refuse_null

Area = Literal["rural", "urban"]
Address = Annotated[str, TextRules(500)]


_MUNICIPALITY = (
    "the municipality or state city: its place code (e.g. LV-REZ, see GET /places) or its "
    "official name (Rēzeknes novads); it must be in force"
)
_REGION = "optional: if given, it must be the municipality's region (it follows from it)"


class SchoolCreate(BaseModel):
    """A school the exhibits travel to, in a canonical place."""

    model_config = ConfigDict(extra="forbid")

    name: Text200
    municipality: Text200 = Field(description=_MUNICIPALITY)
    region: Text200 | None = Field(default=None, description=_REGION)
    address: Address | None = None
    area: Area | None = Field(default=None, description="whether the school is rural or urban")


class SchoolUpdate(BaseModel):
    """Change a school: only the fields given change; ``null`` clears address or area.

    ``archived: true`` archives it (no new visits; its visits and history stay),
    ``false`` restores it.
    """

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = not_null()
    municipality: Text200 | None = not_null(_MUNICIPALITY)
    region: Text200 | None = not_null(_REGION)
    address: Address | None = None
    area: Area | None = None
    archived: Flag | None = not_null("true to archive, false to restore")

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        refuse_null(self, ("name", "municipality", "region", "archived"))
        return self


class SchoolPublic(BaseModel):
    """A stored school and its place (names from ``places``; the text as entered while the
    place is not mapped)."""

    id: int
    name: str
    municipality: str = Field(description="the municipality's official name")
    region: str = Field(description="the region's name (Latvia: its planning region)")
    municipality_code: str | None = Field(
        default=None, description="the place's code; null: the text could not be mapped"
    )
    region_code: str | None = None
    statistical_region_code: str | None = Field(default=None, description="NUTS 3")
    place_mapped: bool = Field(
        default=True, description="false: municipality is free text no place fits (flagged)"
    )
    address: str | None = None
    area: Area | None = None
    archived_at: datetime | None = Field(default=None, description="set while it is archived")
