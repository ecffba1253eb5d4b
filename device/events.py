"""What the inputs hand to the agent: plain values, no hardware and no storage here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Interaction:
    """One accepted event on one input, stamped with both clocks."""

    input: str
    wall: datetime
    mono: float
