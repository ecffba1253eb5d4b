"""Scenario models: schools, visits, visitors, exhibits and faults of one simulated period.

:func:`simulator.scenario_files.load_scenario` reads ``simulator/scenarios/*.yaml`` (or any
file) and validates it with these models (faults: :mod:`simulator.scenario_faults`) and the
cross-checks of :mod:`simulator.scenario_checks`. The format is described in
docs/simulator.md. Times without an offset, and visits' hours, are in the scenario's
``timezone`` (UTC if absent), or the visit's own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from broker.messages import InputName
from simulator.scenario_controller import PIN_POOL, ConfigPush, ControllerDef, OutputCheck
from simulator.scenario_faults import Fault
from simulator.scenario_types import (
    Days,
    Duration,
    ExhibitList,
    HoursField,
    UtcTime,
    context_zone,
    expand_range,
    zone,
)
from simulator.signals import SignalModel

InputKind = Literal["button", "beam", "rotary", "motion"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AgentTuning(_Model):
    """Agent settings every simulated exhibit of the scenario gets."""

    bucket_seconds: float = Field(default=60.0, gt=0, le=3_600)
    session_idle_s: float = Field(default=30.0, gt=0, le=3_600)
    heartbeat_seconds: float = Field(default=300.0, gt=0, le=86_400)
    keepalive_s: int = Field(
        default=30, ge=5, le=300, description="MQTT keepalive: what finds a black hole"
    )


class VisitorProfile(_Model):
    """How visitors use an exhibit during a school day."""

    arrivals_per_hour: list[Annotated[float, Field(ge=0, le=600)]] = Field(
        min_length=1, max_length=24, description="visitor groups per hour, from the day's start"
    )
    session_length: Duration = Field(default=timedelta(seconds=90))
    interactions_per_session: tuple[int, int] = Field(default=(2, 6))
    inputs: dict[InputName, Annotated[float, Field(gt=0)]] | None = Field(
        default=None, description="weights by count name; absent: every count name alike"
    )

    @field_validator("interactions_per_session", mode="before")
    @classmethod
    def _single_or_range(cls, value: Any) -> Any:
        return (value, value) if isinstance(value, int) else value

    @field_validator("interactions_per_session")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not 1 <= low <= high <= 100:
            raise ValueError(f"give 1 <= min <= max <= 100 (got {list(value)})")
        return value

    @field_validator("session_length")
    @classmethod
    def _sensible_length(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(hours=2):
            raise ValueError("a session lasts between 1s and 2h")
        return value


class InputDef(_Model):
    """One input of a simulated exhibit; a bare kind (``button``) names itself."""

    name: InputName
    kind: InputKind

    def count_names(self) -> list[str]:
        """The names its interactions are counted under (a rotary counts per direction)."""
        if self.kind == "rotary":
            return [f"{self.name}_cw", f"{self.name}_ccw"]
        return [self.name]


def _bare_input(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value, "kind": value}
    return value


class ExhibitDef(_Model):
    """One exhibit, or a range of alike ones (``id: ex-01..ex-50``)."""

    id: str
    inputs: list[InputDef] = Field(
        default_factory=lambda: [InputDef(name="button", kind="button")], min_length=1
    )
    visitors: str | VisitorProfile | None = Field(
        default="default", description="a profile of `visitors:`, one given here, or none"
    )
    controller: ControllerDef | None = Field(
        default=None, description="outputs and behaviours its agent runs (docs/controller.md)"
    )

    @field_validator("id")
    @classmethod
    def _ids(cls, value: str) -> str:
        expand_range(value)
        return value

    @field_validator("inputs", mode="before")
    @classmethod
    def _bare_kinds(cls, value: Any) -> Any:
        return [_bare_input(item) for item in value] if isinstance(value, list) else value

    @field_validator("inputs")
    @classmethod
    def _distinct(cls, inputs: list[InputDef]) -> list[InputDef]:
        names = [name for spec in inputs for name in spec.count_names()]
        if len(names) != len(set(names)):
            raise ValueError(f"count names must be distinct (got {names})")
        if sum(2 if spec.kind == "rotary" else 1 for spec in inputs) > len(PIN_POOL):
            raise ValueError(f"at most {len(PIN_POOL)} pins per exhibit")
        return inputs

    @property
    def ids(self) -> list[str]:
        """Every exhibit id this entry stands for."""
        return expand_range(self.id)

    def count_names(self) -> list[str]:
        """Count names of all its inputs, in order."""
        return [name for spec in self.inputs for name in spec.count_names()]


class SchoolDef(_Model):
    """A school the exhibits travel to; ``key`` is how visits refer to it."""

    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    municipality: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=200)
    area: Literal["rural", "urban"] | None = None


class VisitDef(_Model):
    """A visit: a school, its days and daily hours (local time), the exhibits taken, the pupils."""

    key: str | None = Field(default=None, max_length=64)
    school: str
    days: Days
    hours: HoursField
    exhibits: ExhibitList = Field(min_length=1)
    pupils: int | None = Field(default=None, ge=0, le=100_000)
    grades: list[Annotated[int, Field(ge=0, le=12)]] | None = None
    checkout: bool = Field(
        default=True, description="check the exhibits out to it (they tag their records)"
    )
    timezone: str = Field(
        default="", validate_default=True, description="its hours' zone; default: the scenario's"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str, info: ValidationInfo) -> str:
        name = value or context_zone(info)
        zone(name)
        return name

    def window(self, day: Any) -> tuple[datetime, datetime]:
        """The visit's window on ``day``, in UTC."""
        return self.hours.on(day, self.timezone)

    @property
    def starts_at(self) -> datetime:
        """Start of the visit's window."""
        return self.window(self.days[0])[0]

    @property
    def ends_at(self) -> datetime:
        """End of the visit's window."""
        return self.window(self.days[-1])[1]


class DepotCheck(_Model):
    """A technician tries the exhibits at the depot: interactions of no visit."""

    at: UtcTime
    exhibits: ExhibitList = Field(min_length=1)
    touches: int = Field(default=3, ge=1, le=100)


class Scenario(_Model):
    """A whole scenario file."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    timezone: str = Field(default="UTC", description="of times without an offset, and of hours")
    start: UtcTime
    end: UtcTime
    seed: int = 1
    checkout_lead: Duration = Field(default=timedelta(minutes=30))
    agent: AgentTuning = AgentTuning()
    signals: SignalModel = Field(
        default_factory=SignalModel,
        description="how inputs bounce, flicker and re-trigger (simulator/signals.py)",
    )
    visitors: dict[str, VisitorProfile] = Field(default_factory=dict)
    exhibits: list[ExhibitDef] = Field(min_length=1)
    schools: list[SchoolDef] = Field(default_factory=list)
    visits: list[VisitDef] = Field(default_factory=list)
    depot_checks: list[DepotCheck] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    configs: list[ConfigPush] = Field(
        default_factory=list, description="configurations the fleet pushes to exhibits"
    )
    output_checks: list[OutputCheck] = Field(
        default_factory=list, description="what exhibits' outputs must be doing, and when"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    def exhibit_defs(self) -> dict[str, ExhibitDef]:
        """Every exhibit id with its definition (ranges expanded)."""
        return {exhibit_id: e for e in self.exhibits for exhibit_id in e.ids}

    def profile(self, exhibit: ExhibitDef) -> VisitorProfile | None:
        """The visitor profile of ``exhibit`` (None: nobody uses it)."""
        if isinstance(exhibit.visitors, VisitorProfile) or exhibit.visitors is None:
            return exhibit.visitors
        return self.visitors.get(exhibit.visitors)

    def visit_name(self, index: int) -> str:
        """How a visit is named in messages: its key, or its position."""
        return self.visits[index].key or f"visit {index + 1}"
