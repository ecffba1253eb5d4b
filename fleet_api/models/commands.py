"""Command models: identify an exhibit or test its inputs, what became of them, self-tests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from broker.messages import CommandOutcome
from fleet_api.models.fields import Flag, Number

EXPIRES_IN_S = 600.0
"""How long a command waits for an exhibit that is off or offline, by default."""


class CommandCreate(BaseModel):
    """Ask an exhibit to blink (``identify``) or to report which inputs are pressed
    during the next ``seconds`` (``self_test``)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["identify", "self_test"]
    seconds: Annotated[float, Field(gt=0, le=600, description="how long, up to 600 s"), Number] = (
        30.0
    )
    expires_in_s: Annotated[
        float,
        Field(
            ge=10,
            le=86_400,
            description="an exhibit that has not received it by then never runs it (the "
            "broker drops it; a synced exhibit checks it too), 10 s to 1 day",
        ),
        Number,
    ] = EXPIRES_IN_S
    force: Flag = Field(
        default=False,
        description="self-test even while the exhibit is checked out to a visit: the "
        "presses in the window are then the pupils', reported as self-test presses",
    )


class SelfTestPublic(BaseModel):
    """Which inputs the technician's presses reached during a self-test, and what it took."""

    command_id: str
    at: datetime = Field(description="when the exhibit finished the test, by its own clock")
    received_at: datetime
    seen: dict[str, bool]
    passed: bool
    taken: dict[str, int] | None = Field(
        default=None,
        description="interactions the window took out of the counts, by count name "
        "(self-test presses; absent from agents that do not report them)",
    )

    @computed_field(description="self-test presses in all: not counted as visitors'")  # type: ignore[prop-decorator]
    @property
    def presses_taken(self) -> int | None:
        """All interactions the window took (None: the agent did not say)."""
        return None if self.taken is None else sum(self.taken.values())


class CommandPublic(BaseModel):
    """A command published (retained) to an exhibit; ``result`` once a self-test reported."""

    command_id: str
    exhibit_id: str
    action: Literal["identify", "self_test"]
    seconds: float
    issued_at: datetime
    expires_at: datetime | None = None
    force: bool = False
    outcome: CommandOutcome | None = Field(
        default=None,
        description="what the exhibit did: ran, expired, refused_in_visit (a self-test "
        "while checked out, without force), refused_unknown_age; absent until it reports",
    )
    outcome_at: datetime | None = Field(default=None, description="by the exhibit's clock")
    reported_at: datetime | None = None
    cleared_at: datetime | None = Field(
        default=None, description="when the fleet deleted the retained command"
    )
    result: SelfTestPublic | None = None
