"""Programme models: what a visit teaches (name, target grades, STEM area)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet_api.models.fields import Flag, Notes, Number, Text200, not_null, refuse_null

StemArea = Literal["science", "technology", "engineering", "mathematics", "integrated"]
Grade = Annotated[int, Field(ge=0, le=12, description="a school grade, 0 for pre-school"), Number]


def _check_grades(grade_min: int | None, grade_max: int | None) -> None:
    if grade_min is not None and grade_max is not None and grade_max < grade_min:
        raise ValueError(f"grade_max ({grade_max}) is below grade_min ({grade_min})")


class ProgrammeCreate(BaseModel):
    """A programme the centre delivers on visits."""

    model_config = ConfigDict(extra="forbid")

    name: Text200
    grade_min: Grade | None = Field(default=None, description="the lowest target grade")
    grade_max: Grade | None = Field(default=None, description="the highest target grade")
    stem_area: StemArea | None = None
    description: Notes | None = None

    @model_validator(mode="after")
    def _grades(self) -> Self:
        _check_grades(self.grade_min, self.grade_max)
        return self


class ProgrammeUpdate(BaseModel):
    """Change a programme: only the fields given change; ``archived`` archives or restores."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = not_null()
    grade_min: Grade | None = None
    grade_max: Grade | None = None
    stem_area: StemArea | None = None
    description: Notes | None = None
    archived: Flag | None = not_null("true to archive, false to restore")

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        refuse_null(self, ("name", "archived"))
        return self


class ProgrammePublic(BaseModel):
    """A stored programme."""

    id: int
    name: str
    grade_min: int | None = None
    grade_max: int | None = None
    stem_area: StemArea | None = None
    description: str | None = None
    archived_at: datetime | None = None
