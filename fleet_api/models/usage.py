"""Usage of a visit: interactions per exhibit and input (read by the simulator's verify)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class InputUsage(BaseModel):
    """Interactions counted on one input."""

    input: str
    count: int


class ExhibitUsage(BaseModel):
    """Interactions of one exhibit during a visit; ``inputs`` sorted by name."""

    exhibit_id: str
    total: int
    inputs: list[InputUsage]


class VisitUsage(BaseModel):
    """Interactions of a whole visit; every exhibit of the visit listed, sorted by id."""

    visit_id: int
    starts_at: datetime
    ends_at: datetime
    total: int
    exhibits: list[ExhibitUsage]
