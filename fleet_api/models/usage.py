"""Usage of a visit: interactions per exhibit and input (read by the simulator's verify),
sessions, dwell time, time in use, a timeline per UTC hour, and how complete the data is.

Fields are only ever added here: ``exhibits[].inputs[].count`` and ``total`` are read by
``exhibit-sim verify``. Hours are UTC (``time_zone``); the web pages localise them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from fleet_api.completeness import DataStatus


class InputUsage(BaseModel):
    """Interactions counted on one input."""

    input: str
    count: int


class HourUsage(BaseModel):
    """Interactions and sessions started in one UTC hour."""

    hour: datetime
    count: int
    sessions: int


class SeqGap(BaseModel):
    """Seqs ``first`` to ``last`` (both included) that have not arrived."""

    first: int
    last: int


class Completeness(BaseModel):
    """Whether one exhibit's numbers for the visit can still change, and why."""

    status: DataStatus
    detail: str = Field(description="one sentence for staff")
    missing_records: int = Field(description="seqs missing among or next to the visit's records")
    gaps: list[SeqGap] = Field(description="those missing seqs as ranges (at most 20)")
    max_seq: int | None = Field(description="highest seq received from the exhibit")
    last_seen_at: datetime | None = Field(description="last status or heartbeat received")
    outbox_depth: int | None = Field(description="records waiting on the exhibit, last reported")
    outbox_reported_at: datetime | None
    unsynced_records: int = Field(
        description="records of this visit placed by a clock that was never synced in their "
        "boot: their hour may be wrong"
    )
    unplaced_records: int = Field(
        default=0,
        description="records of this exhibit that may be this visit's but could not be "
        "placed (their bounds allow another visit or none), not assigned by staff: "
        "GET /unplaced?visit_id=",
    )
    unplaced_interactions: int = Field(
        default=0, description="the interactions of those records (count records only)"
    )


class ExhibitUsage(BaseModel):
    """Usage of one exhibit during a visit; ``inputs`` sorted by name."""

    exhibit_id: str
    total: int
    inputs: list[InputUsage]
    sessions: int = 0
    median_dwell_s: float | None = Field(
        default=None, description="median first-to-last interaction time of its sessions"
    )
    in_use_s: float | None = Field(
        default=None,
        description="seconds in use: sum of session dwell times, or else of "
        "the count buckets that had interactions",
    )
    in_use_share: float | None = Field(
        default=None, description="in_use_s over the visit's length, at most 1"
    )
    in_use_basis: Literal["sessions", "buckets"] | None = None
    interactions_per_pupil: float | None = None
    timeline: list[HourUsage] = []
    completeness: Completeness | None = None


class VisitUsage(BaseModel):
    """Usage of a whole visit; every exhibit of the visit listed, sorted by id."""

    visit_id: int
    starts_at: datetime
    ends_at: datetime
    total: int
    exhibits: list[ExhibitUsage]
    time_zone: Literal["UTC"] = "UTC"
    pupils: int | None = None
    interactions_per_pupil: float | None = None
    sessions: int = 0
    median_dwell_s: float | None = None
    timeline: list[HourUsage] = Field(
        default=[], description="every UTC hour of the visit, and any other hour with data"
    )
    data_status: DataStatus | None = Field(
        default=None, description="the least final status of its exhibits"
    )
    unplaced_records: int = Field(
        default=0, description="unplaced records that may be this visit's, all exhibits"
    )
    unplaced_interactions: int = Field(
        default=0, description="their interactions: the total may be up to this much higher"
    )
