"""The faults a scenario can inject: network, power and clocks, broker and API, messages, clones,
and the depot server's crashes (broker kill -9, power cut, a dead ingest worker, a restore).

Each model is one entry of a scenario's ``faults:`` list, told apart by ``kind``. Clock
offsets are signed: the wall clock minus true time (``-26h``: a Pi that believes it is a
day earlier; ``+3h``: an RTC set wrong, or fake-hwclock restoring a date from the future).
:func:`boots` and :func:`dark` say, for every fault kind alike, when an exhibit boots (and
with which clock) and when it has no power: the plan, the checks and the hosts need both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from broker.messages import ExhibitId
from simulator.scenario_types import Duration, ExhibitList, SignedDuration, UtcTime


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Fault(_Model):
    at: UtcTime


class Partition(_Fault):
    """The exhibits cannot reach the broker from ``at`` for ``for``.

    ``how: cut`` closes the sockets (both ends notice at once); ``how: black_hole`` drops
    the traffic and keeps the sockets open, as dead school Wi-Fi does: only keepalive
    finds out.
    """

    kind: Literal["partition"]
    exhibits: ExhibitList = Field(min_length=1)
    duration: Duration = Field(alias="for")
    how: Literal["cut", "black_hole"] = "cut"


class PowerCut(_Fault):
    """``kill -9`` of the exhibit's agent; it boots again after ``for``, maybe with a bad clock."""

    kind: Literal["power_cut"]
    exhibit: ExhibitId
    duration: Duration = Field(default=timedelta(minutes=10), alias="for")
    in_flight: int = Field(default=0, ge=0, le=10, description="presses at the instant of the cut")
    clock_behind: Duration = Field(default=timedelta(0))
    clock_ahead: Duration = Field(default=timedelta(0))
    sync_at: UtcTime | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> PowerCut:
        if self.clock_behind and self.clock_ahead:
            raise ValueError("a clock is behind or ahead, not both: give one of them")
        return self

    @property
    def offset(self) -> timedelta:
        """The clock of the boot after the cut: wall minus true time."""
        return self.clock_ahead - self.clock_behind


class ClockBehind(_Fault):
    """A clean reboot at ``at`` with the clock ``behind``, unsynced until ``sync_at`` (or never)."""

    kind: Literal["clock_behind"]
    exhibit: ExhibitId
    behind: Duration
    sync_at: UtcTime | None = None

    @property
    def offset(self) -> timedelta:
        """The clock of the new boot: wall minus true time."""
        return -self.behind


class ClockAhead(_Fault):
    """A clean reboot at ``at`` with the clock ``ahead`` (RTC set wrong, a future fake-hwclock)."""

    kind: Literal["clock_ahead"]
    exhibit: ExhibitId
    ahead: Duration
    sync_at: UtcTime | None = None

    @property
    def offset(self) -> timedelta:
        """The clock of the new boot: wall minus true time."""
        return self.ahead


class ClockJump(_Fault):
    """The wall clock jumps by ``by`` while the agent runs (same boot), and says it is unsynced.

    ``sync_at`` is NTP arriving later in the same boot: after a jump ahead, it steps the
    clock back.
    """

    kind: Literal["clock_jump"]
    exhibit: ExhibitId
    by: SignedDuration
    sync_at: UtcTime | None = None


class ChainBoot(_Model):
    """One boot of a reboot chain: ``after`` the previous one (the first: at the chain's ``at``)."""

    after: Duration = Field(default=timedelta(0))
    offset: SignedDuration = Field(description="wall minus true time in this boot, e.g. -26h")
    power_cut: bool = Field(default=True, description="kill -9 (else a clean reboot)")
    duration: Duration = Field(default=timedelta(minutes=1), alias="for")


class RebootChain(_Fault):
    """Several boots before any sync, offsets either way; ``sync_at`` syncs the last (or never)."""

    kind: Literal["reboot_chain"]
    exhibit: ExhibitId
    boots: list[ChainBoot] = Field(min_length=1, max_length=20)
    sync_at: UtcTime | None = None

    def steps(self) -> list[tuple[datetime, ChainBoot]]:
        """Each boot's moment of shutdown (or of the power cut), in order."""
        found: list[tuple[datetime, ChainBoot]] = []
        moment = self.at
        for boot in self.boots:
            moment += boot.after
            found.append((moment, boot))
            if boot.power_cut:
                moment += boot.duration
        return found

    @property
    def end(self) -> datetime:
        """When the last boot of the chain is up."""
        when, last = self.steps()[-1]
        return when + last.duration if last.power_cut else when


class BrokerRestart(_Fault):
    """Mosquitto stopped at ``at`` (or once the fleet replays a backlog), back after ``for``."""

    kind: Literal["broker_restart"]
    duration: Duration = Field(default=timedelta(0), alias="for")
    during_replay: bool = False


class ApiRestart(_Fault):
    """The fleet API stopped at ``at`` (SIGTERM, or SIGKILL if ``hard``), back after ``for``."""

    kind: Literal["api_restart"]
    duration: Duration = Field(default=timedelta(0), alias="for")
    hard: bool = False


class DuplicateDelivery(_Fault):
    """The last ``batches`` batches of each exhibit (all if absent) are published again."""

    kind: Literal["duplicate_delivery"]
    exhibits: ExhibitList = Field(default_factory=lambda: ["all"])
    batches: int | None = Field(default=None, ge=1)


class ClonedIdentity(_Fault):
    """A copy of the exhibit's SD card boots in another Pi."""

    kind: Literal["cloned_identity"]
    exhibit: ExhibitId


class BrokerKill(_Fault):
    """kill -9 of Mosquitto at ``at`` (no snapshot saved), started again after ``for``.

    ``ingest: down``: the fleet API stops (SIGTERM) ``ingest_down`` before the kill, so the
    broker holds the exhibits' messages queued for the ingest's session when it dies.
    """

    kind: Literal["broker_kill"]
    duration: Duration = Field(default=timedelta(minutes=2), alias="for")
    ingest: Literal["running", "down"] = "running"
    ingest_down: Duration = Field(default=timedelta(minutes=20))


class ServerPowerCut(_Fault):
    """The server loses power at ``at``: Mosquitto and the fleet API killed together
    (kill -9); both start again after ``for``."""

    kind: Literal["server_power_cut"]
    duration: Duration = Field(default=timedelta(minutes=5), alias="for")


class WorkerKill(_Fault):
    """Two ingest workers share the exhibits' messages (an MQTT v5 share group) from the
    start; the second is killed (kill -9) at ``at`` and never comes back."""

    kind: Literal["worker_kill"]


class DatabaseRestore(_Fault):
    """``fleet-api backup`` at ``backup_at`` while ingesting; at ``at`` the fleet API is
    stopped, its database restored from that backup (``fleet-api restore``) and started."""

    kind: Literal["database_restore"]
    backup_at: UtcTime


AnyFault = (
    Partition
    | PowerCut
    | ClockBehind
    | ClockAhead
    | ClockJump
    | RebootChain
    | BrokerRestart
    | ApiRestart
    | DuplicateDelivery
    | ClonedIdentity
    | BrokerKill
    | ServerPowerCut
    | WorkerKill
    | DatabaseRestore
)
Fault = Annotated[AnyFault, Field(discriminator="kind")]
FAULT_KINDS = frozenset(
    {
        "partition",
        "power_cut",
        "clock_behind",
        "clock_ahead",
        "clock_jump",
        "reboot_chain",
        "broker_restart",
        "api_restart",
        "duplicate_delivery",
        "cloned_identity",
        "broker_kill",
        "server_power_cut",
        "worker_kill",
        "database_restore",
    }
)
REBOOTING = PowerCut | ClockBehind | ClockAhead | RebootChain
"""Faults that boot their exhibit again: it gets a host process of its own."""


@dataclass(frozen=True, slots=True)
class Boot:
    """An exhibit going down at ``down`` and up at ``up`` with its clock ``offset`` (wall - true).

    ``hard``: a power cut (``kill -9``; off from ``down`` to ``up``), else a clean reboot
    (``down == up``).
    """

    down: datetime
    up: datetime
    offset: timedelta
    hard: bool
    in_flight: int = 0


def boots(fault: AnyFault) -> list[Boot]:
    """Every boot ``fault`` causes, in order (none for faults that do not reboot)."""
    if isinstance(fault, PowerCut):
        up = fault.at + fault.duration
        return [Boot(fault.at, up, fault.offset, hard=True, in_flight=fault.in_flight)]
    if isinstance(fault, ClockBehind | ClockAhead):
        return [Boot(fault.at, fault.at, fault.offset, hard=False)]
    if isinstance(fault, RebootChain):
        return [
            Boot(when, when + boot.duration if hard else when, boot.offset, hard)
            for when, boot in fault.steps()
            for hard in [boot.power_cut]
        ]
    return []


def dark(fault: AnyFault) -> list[tuple[datetime, datetime]]:
    """When ``fault`` leaves its exhibit without power."""
    return [(boot.down, boot.up) for boot in boots(fault) if boot.hard]


def span_end(fault: AnyFault) -> datetime:
    """When the fault's last action happens (its sync excluded)."""
    if isinstance(fault, RebootChain):
        return fault.end
    duration = getattr(fault, "duration", timedelta(0))
    return fault.at + duration if isinstance(duration, timedelta) else fault.at
