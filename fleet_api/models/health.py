"""Fleet health models: each exhibit's connectivity, latest heartbeat, assignment, data
completeness, latest self-test, and alerts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from broker.messages import ConfigOutcome
from fleet_api.agent_versions import VersionBasis
from fleet_api.alerts import AlertCode, Connectivity, Severity
from fleet_api.config_drift import ConfigState
from fleet_api.models.commands import CommandPublic, SelfTestPublic
from fleet_api.models.usage import SeqGap


class HeartbeatPublic(BaseModel):
    """What one heartbeat said; values the Pi cannot measure are None."""

    at: datetime = Field(description="when it was sent, by the exhibit's clock")
    received_at: datetime
    boot_id: str
    uptime_s: float
    clock_synced: bool
    outbox_depth: int
    cpu_temp_c: float | None
    under_voltage: bool | None
    throttled: bool | None
    disk_free_bytes: int | None
    mem_available_bytes: int | None
    wifi_signal_dbm: float | None
    retained_from_seq: int | None = Field(
        default=None,
        description="the oldest record the exhibit still holds, confirmed or not: a resend "
        "can start there (its retained window); None: it holds none, or an older agent",
    )
    retained_records: int | None = Field(
        default=None, description="records the fleet confirmed that the exhibit still keeps"
    )
    refused_subscriptions: dict[str, str] | None = Field(
        default=None,
        description="the agent's own subscriptions the broker refused (topic filter: the "
        "broker's reason): it misses what comes on them; {}: all granted; null: not reported",
    )


class AlertPublic(BaseModel):
    """One thing that needs a look."""

    code: AlertCode
    severity: Severity
    message: str


class AssignmentPublic(BaseModel):
    """The retained assignment last acknowledged by the broker (``visit_id`` None: none)."""

    visit_id: int | None
    issued_at: datetime


class ExhibitHealth(BaseModel):
    """One exhibit as a technician sees it."""

    exhibit_id: str
    name: str
    connectivity: Connectivity
    online: bool | None = Field(description="the retained status: birth (true) or will (false)")
    status_at: datetime | None
    last_seen_at: datetime | None
    boot_id: str | None
    agent_version: str | None
    agent_outdated: bool | None = Field(
        default=None,
        description="older than the current version (FleetHealth.current_agent_version); "
        "None: not known",
    )
    config_hash: str | None = Field(default=None, description="as its latest birth said")
    expected_config_hash: str | None = Field(
        default=None, description="what the fleet expects it to report"
    )
    reported_inputs: list[str] | None = Field(
        default=None, description="the input names its latest birth said it counts"
    )
    config: ConfigState = Field(
        default=ConfigState.NOT_REPORTED,
        description="expected against reported configuration",
    )
    config_version: int | None = Field(
        default=None,
        description="the version of the fleet's configuration its latest birth said it runs "
        "(None: its local configuration, or not reported)",
    )
    expected_config_version: int | None = Field(
        default=None, description="the newest version pushed to it (PUT /exhibits/{id}/config)"
    )
    config_outcome: ConfigOutcome | None = Field(
        default=None, description="what it reported of the newest version (None: nothing yet)"
    )
    config_refused_reason: str | None = Field(
        default=None, description="why it refused the newest version"
    )
    heartbeat: HeartbeatPublic | None
    assignment: AssignmentPublic | None
    visit_now: int | None = Field(description="the visit scheduled now that took it")
    max_seq: int | None
    missing_records: int
    conflicts: int = Field(
        default=0, description="records that reused a stored seq with another body"
    )
    seq_restarts: int = Field(
        default=0, description="of them, from another boot: its seqs started again"
    )
    unplaced_records: int = Field(
        default=0,
        description="records of never-synced boots no visit could be chosen for, not "
        "assigned by staff (GET /unplaced?exhibit_id=)",
    )
    unplaced_interactions: int = Field(default=0, description="their interactions")
    unplaced_candidate_visit_ids: list[int] = Field(
        default=[], description="the visits they may belong to"
    )
    self_test: SelfTestPublic | None
    alerts: list[AlertPublic]


class ExhibitHealthDetail(ExhibitHealth):
    """One exhibit with its gaps, recent heartbeats and commands."""

    gaps: list[SeqGap] = Field(description="missing seq ranges, oldest first (at most 100)")
    heartbeats: list[HeartbeatPublic] = Field(description="the last 24 hours, newest first")
    commands: list[CommandPublic] = Field(description="the latest commands, newest first")


class UnplacedExhibit(BaseModel):
    """An exhibit with records no visit could be chosen for."""

    exhibit_id: str
    records: int
    interactions: int
    candidate_visit_ids: list[int]


class FleetHealth(BaseModel):
    """Every exhibit's health, by id, and a count of what needs a look."""

    checked_at: datetime
    online: int
    offline: int
    unknown: int
    warnings: int
    current_agent_version: str | None = Field(
        default=None, description="what agent_outdated compares with"
    )
    current_agent_version_basis: VersionBasis = Field(
        default=VersionBasis.NONE,
        description="setting: FLEET_AGENT_CURRENT_VERSION; newest_reported: the newest "
        "version an exhibit of the fleet reports",
    )
    exhibits: list[ExhibitHealth]
    unplaced: list[UnplacedExhibit] = Field(
        default=[], description="exhibits with unplaced records, by id"
    )
