"""``/unplaced``: records their bounds cannot place (:mod:`fleet_api.store.unplaced`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from broker.limits import SEQ_MAX
from fleet_api.models.fields import DbId, ExhibitId, Number

Seq = Annotated[int, Field(ge=1, le=SEQ_MAX), Number]


class UnplacedPublic(BaseModel):
    """One record of a never-synced boot that could not be placed."""

    exhibit_id: str
    seq: int
    kind: Literal["count", "session"]
    input: str | None = Field(description="the input of a count record; None for a session")
    interactions: int = Field(description="its count, or a session's interactions")
    boot_id: str
    wall_start: datetime = Field(description="what the exhibit's unsynced clock said")
    received_at: datetime
    earliest: datetime | None = Field(
        description="its true start is not before this (None: not known)"
    )
    latest: datetime | None = Field(description="its true start is not after this")
    candidate_visit_ids: list[int] = Field(description="the exhibit's visits its bounds meet")
    outside_visits_possible: bool = Field(
        description="whether its bounds also allow a time in none of the exhibit's visits"
    )
    assigned_visit_id: int | None = Field(description="the visit staff assigned it to")
    assigned_by: str | None
    assigned_at: datetime | None


class UnplacedList(BaseModel):
    """A page of unplaced records and how many match in all."""

    total: int
    records: list[UnplacedPublic]


class AssignUnplaced(BaseModel):
    """Records of one exhibit to assign to one of their candidate visits."""

    model_config = ConfigDict(extra="forbid")

    exhibit_id: ExhibitId
    seqs: list[Seq] = Field(min_length=1, max_length=10_000)
    visit_id: DbId


class UnassignUnplaced(BaseModel):
    """Records of one exhibit whose staff assignment is undone."""

    model_config = ConfigDict(extra="forbid")

    exhibit_id: ExhibitId
    seqs: list[Seq] = Field(min_length=1, max_length=10_000)


class Assigned(BaseModel):
    """How many records changed."""

    assigned: int | None = None
    unassigned: int | None = None
