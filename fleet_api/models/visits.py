"""Visit models: a school, a time range in UTC, the exhibits taken, the programmes
delivered, what staff record about it (pupils, grades, teachers, staff member, notes),
and its status.

Status: staff decide ``planned`` (the default), ``held`` (checking the exhibits in says
so) or ``cancelled`` (with a reason; also how a visit that did not take place is marked
not held). A planned visit counts as held once it has ended: :func:`effective_status`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from fleet_api.models.fields import (
    DbId,
    ExhibitId,
    Notes,
    Number,
    Text200,
    TextRules,
    UtcDatetime,
    not_null,
)

MAX_EXHIBITS_PER_VISIT = 100
MAX_PROGRAMMES_PER_VISIT = 20
MAX_PUPILS = 100_000
MAX_TEACHERS = 10_000
MAX_VISIT_LENGTH = timedelta(days=31)
"""A field trip lasts a day or a few; a longer window is a typing mistake."""


def _sorted_unique(grades: list[int]) -> list[int]:
    return sorted(set(grades))


class VisitStatus(StrEnum):
    """Whether a visit is still to come, took place, or was called off."""

    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


def effective_status(stored: str, ends_at: datetime, now: datetime) -> VisitStatus:
    """The status a visit has at ``now``: a planned visit that has ended was held."""
    status = VisitStatus(stored)
    if status is VisitStatus.PLANNED and ends_at <= now:
        return VisitStatus.HELD
    return status


Pupils = Annotated[
    int,
    Field(ge=0, le=MAX_PUPILS, description="pupils taking part in the visit's activities"),
    Number,
]
Teachers = Annotated[
    int, Field(ge=0, le=MAX_TEACHERS, description="the school's teachers present"), Number
]
ProgrammeIds = Annotated[
    list[DbId],
    Field(max_length=MAX_PROGRAMMES_PER_VISIT, description="the programmes the visit delivers"),
    AfterValidator(_sorted_unique),
]
Reason = Annotated[str, TextRules(1000)]
Grades = Annotated[
    list[Annotated[int, Field(ge=0, le=12), Number]],
    Field(max_length=13, description="school grades of the pupils, 0 for pre-school"),
    AfterValidator(_sorted_unique),
]
ExhibitIds = Annotated[
    list[ExhibitId],
    Field(min_length=1, max_length=MAX_EXHIBITS_PER_VISIT, json_schema_extra={"uniqueItems": True}),
]


def _no_duplicates(exhibit_ids: list[str] | None) -> None:
    if exhibit_ids is None:
        return
    duplicates = sorted({e for e in exhibit_ids if exhibit_ids.count(e) > 1})
    if duplicates:
        raise ValueError(f"exhibit_ids lists {', '.join(duplicates)} more than once")


def check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    """ValueError unless ``ends_at`` is after ``starts_at`` and within MAX_VISIT_LENGTH."""
    if starts_at is None or ends_at is None:
        return
    if ends_at <= starts_at:
        raise ValueError(
            f"ends_at ({ends_at.isoformat()}) must be after starts_at ({starts_at.isoformat()})"
        )
    if ends_at - starts_at > MAX_VISIT_LENGTH:
        raise ValueError(
            f"a visit lasts at most {MAX_VISIT_LENGTH.days} days: ends_at "
            f"({ends_at.isoformat()}) is too long after starts_at ({starts_at.isoformat()})"
        )


class VisitCreate(BaseModel):
    """Schedule a visit; times must carry a UTC offset, ``ends_at`` after ``starts_at``."""

    model_config = ConfigDict(extra="forbid")

    school_id: DbId
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    exhibit_ids: ExhibitIds
    programme_ids: ProgrammeIds = []
    pupils: Pupils | None = None
    teachers: Teachers | None = None
    grades: Grades | None = None
    staff: Text200 | None = Field(default=None, description="the staff member leading it")
    notes: Notes | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_window(self.starts_at, self.ends_at)
        _no_duplicates(self.exhibit_ids)
        return self


class VisitUpdate(BaseModel):
    """Change a visit: only the fields given change; ``null`` clears an optional one.

    Changing the times or the exhibits re-attributes the records concerned at once.
    """

    model_config = ConfigDict(extra="forbid")

    school_id: DbId | None = not_null()
    starts_at: UtcDatetime | None = not_null()
    ends_at: UtcDatetime | None = not_null()
    exhibit_ids: ExhibitIds | None = not_null()
    programme_ids: ProgrammeIds | None = not_null()
    pupils: Pupils | None = None
    teachers: Teachers | None = None
    grades: Grades | None = None
    staff: Text200 | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        required = {"school_id", "starts_at", "ends_at", "exhibit_ids", "programme_ids"}
        cleared = sorted(
            name for name in required & self.model_fields_set if getattr(self, name) is None
        )
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        check_window(self.starts_at, self.ends_at)
        _no_duplicates(self.exhibit_ids)
        return self


class VisitStatusChange(BaseModel):
    """Why a visit is cancelled (or marked not held), or why it is planned again."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="what happened, for the audit trail and the report")


class VisitPublic(BaseModel):
    """A stored visit; ``exhibit_ids`` and ``programme_ids`` sorted; ``checked_out_at`` /
    ``checked_in_at`` when the exhibits were last sent their assignment to it, and told it
    ended; ``status`` as of the response (a planned visit that has ended is held)."""

    id: int
    school_id: int
    starts_at: datetime
    ends_at: datetime
    exhibit_ids: list[str]
    programme_ids: list[int] = []
    status: VisitStatus = VisitStatus.PLANNED
    status_reason: str | None = Field(default=None, description="why it was cancelled")
    pupils: int | None = None
    teachers: int | None = None
    grades: list[int] | None = None
    staff: str | None = None
    notes: str | None = None
    checked_out_at: datetime | None = None
    checked_in_at: datetime | None = None
