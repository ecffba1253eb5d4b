"""Visit models: a school, a time range in UTC, the exhibits taken."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet_api.models.fields import DbId, ExhibitId, UtcDatetime

MAX_EXHIBITS_PER_VISIT = 100


class VisitCreate(BaseModel):
    """Schedule a visit; times must carry a UTC offset, ``ends_at`` after ``starts_at``."""

    model_config = ConfigDict(extra="forbid")

    school_id: DbId
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    exhibit_ids: Annotated[list[ExhibitId], Field(min_length=1, max_length=MAX_EXHIBITS_PER_VISIT)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError(
                f"ends_at ({self.ends_at.isoformat()}) must be after starts_at "
                f"({self.starts_at.isoformat()})"
            )
        duplicates = sorted({e for e in self.exhibit_ids if self.exhibit_ids.count(e) > 1})
        if duplicates:
            raise ValueError(f"exhibit_ids lists {', '.join(duplicates)} more than once")
        return self


class VisitPublic(BaseModel):
    """A stored visit; ``exhibit_ids`` sorted."""

    id: int
    school_id: int
    starts_at: datetime
    ends_at: datetime
    exhibit_ids: list[str]
