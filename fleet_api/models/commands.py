"""Command models: identify an exhibit or test its inputs, and the self-test results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class CommandCreate(BaseModel):
    """Ask an exhibit to blink (``identify``) or to report which inputs are pressed
    during the next ``seconds`` (``self_test``)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["identify", "self_test"]
    seconds: Annotated[float, Field(gt=0, le=600, description="how long, up to 600 s")] = 30.0


class SelfTestPublic(BaseModel):
    """Which inputs the technician's presses reached during a self-test."""

    command_id: str
    at: datetime = Field(description="when the exhibit finished the test, by its own clock")
    received_at: datetime
    seen: dict[str, bool]
    passed: bool


class CommandPublic(BaseModel):
    """A command published (retained) to an exhibit; ``result`` once a self-test reported."""

    command_id: str
    exhibit_id: str
    action: Literal["identify", "self_test"]
    seconds: float
    issued_at: datetime
    result: SelfTestPublic | None = None
