"""What the coordinator and an exhibit host process say to each other.

The host (``python -m simulator.exhibit_process CONFIG``) reads a :class:`HostConfig`
from a JSON file, starts its agents, and then answers one JSON object per line on its
stdout for each request line on its stdin. Times are UTC epoch seconds (floats): a
simulated instant, not the machine's clock.

Requests (``op``):

- ``run`` ``{"steps": [[exhibit_id, t, count_name], ...], "until": t, "nowait": false}``:
  for each step make the interaction starting at ``t``: the edges of its gesture
  (``simulator.signals``), each at its own moment of that exhibit's clock; then move
  every clock to ``until`` (if it is not past it already) and (unless ``nowait``) wait
  until each agent has durably recorded everything (``Agent.wait_recorded``). Reply
  ``{"ok": true, "done": n}``.
- ``sync`` ``{"exhibit": id}``: NTP arrives; reply once the agent has seen it.
- ``jump`` ``{"exhibit": id, "by": seconds}``: the wall clock jumps (same boot) and says it
  is unsynced; reply once the agent has seen that.
- ``wait`` ``{"exhibit": id, "visit": v | null, "connected": bool, "drained": bool,
  "config": n, "config_hash": h}``: until the agent holds that visit assignment (if
  ``visit`` is given), is connected and has every sealed record acknowledged by the broker
  (if asked), and runs configuration version ``n`` (if given; with ``config_hash`` too:
  that document).
- ``outputs`` ``{"exhibit": id}``: what each of its outputs does at its clock's moment,
  once its touches are recorded and its behaviours caught up:
  ``{"ok", "outputs": {name: {"doing", "active", "value", ...}}, "config_version": n}``.
- ``flush``: every agent seals all and waits for its PUBACKs; ``{"ok", "depth": {id: n}}``.
- ``status``: ``{"exhibits": {id: {"connected", "depth", "visit", "synced", "failed",
  "config_version"}}}``.

Between requests, and while it waits, the host rebuilds an agent that applied a
configuration the fleet pushed (``SimExhibit.rebuild_if_asked``), as ``exhibit-agent run``
does on a Pi.
- ``stop``: stop every agent cleanly and exit 0.

Every request may carry ``timeout`` (real seconds). A failed request answers
``{"ok": false, "error": "..."}`` and the host goes on. Before anything else the host
prints ``{"event": "ready"}``, or ``{"event": "identity_mismatch", "detail": ...}`` and exits
with code 3, as ``exhibit-agent`` does on a cloned SD card.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from simulator.scenario import InputDef
from simulator.signals import SignalModel

EXIT_IDENTITY = 3
"""Exit code of a host whose agent found a cloned identity (as ``exhibit-agent``)."""


class ExhibitBoot(BaseModel):
    """One boot of one simulated exhibit: its agent's settings and its clock at boot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exhibit_id: str
    data_dir: Path
    machine_dir: Path = Field(description="machine-id, cpuinfo and SD card id of its Pi")
    broker_url: str
    inputs: list[InputDef]
    bucket_seconds: float
    session_idle_s: float
    heartbeat_seconds: float
    keepalive_s: int = 30
    boot_id: str
    true_now: datetime
    skew_s: float = Field(default=0.0, description="wall clock minus true time")
    synced: bool = True
    signals: SignalModel = Field(default_factory=SignalModel, description="how inputs bounce")
    seed: int = Field(default=1, description="the scenario's: every gesture repeats run to run")
    controller: dict[str, Any] | None = Field(
        default=None, description="outputs, behaviours, attract, quiet_hours (pins placed)"
    )


class HostConfig(BaseModel):
    """Every exhibit a host process runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exhibits: list[ExhibitBoot] = Field(min_length=1)
    log_level: str = "WARNING"
    timezone: str = Field(default="UTC", description="the Pis' local time (quiet hours)")


def epoch(at: datetime) -> float:
    """A simulated instant as it travels in requests."""
    return at.timestamp()


def from_epoch(seconds: float) -> datetime:
    """Back from a request's float to an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)
