"""Trip readiness models: every exhibit of a visit, each check, and the verdict."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from fleet_api.agent_versions import VersionBasis
from fleet_api.alerts import Connectivity
from fleet_api.config_drift import ConfigState
from fleet_api.models.commands import CommandPublic, SelfTestPublic
from fleet_api.models.health import HeartbeatPublic
from fleet_api.readiness import Check, Verdict


class ReadinessCheck(BaseModel):
    """One check of one exhibit."""

    check: Check
    verdict: Verdict
    reason: str = Field(description="a stable code, e.g. offline, outdated, drifted, stale")
    detail: str


class ExhibitReadiness(BaseModel):
    """One exhibit of the visit: what was checked and whether it may go."""

    exhibit_id: str
    name: str
    ready: bool
    connectivity: Connectivity
    visit_now: int | None = Field(description="the visit that has it right now, if any")
    assigned_visit_id: int | None = Field(
        description="the visit it is checked out to (its retained assignment), if any"
    )
    agent_version: str | None
    agent_outdated: bool | None
    config: ConfigState
    config_hash: str | None
    expected_config_hash: str | None
    config_version: int | None = Field(
        default=None, description="the fleet's configuration version it runs"
    )
    expected_config_version: int | None = Field(
        default=None, description="the newest version pushed to it"
    )
    config_refused_reason: str | None = Field(
        default=None, description="why it refused the newest version"
    )
    self_test: SelfTestPublic | None = Field(description="the latest result")
    self_test_age_s: float | None = Field(
        description="seconds since that self-test was asked for (else since it arrived)"
    )
    self_test_command: CommandPublic | None = Field(
        description="the newest self-test sent after the latest result, when it has no result "
        "yet: still running, or (its outcome) not run by the exhibit"
    )
    heartbeat: HeartbeatPublic | None
    checks: list[ReadinessCheck]


class VisitReadiness(BaseModel):
    """The visit's exhibits for the 7 am check; ``ready`` only if every exhibit is."""

    visit_id: int
    starts_at: datetime
    checked_at: datetime
    ready: bool
    exhibits_ready: int
    current_agent_version: str | None
    current_agent_version_basis: VersionBasis = Field(
        description="setting: FLEET_AGENT_CURRENT_VERSION; newest_reported: the newest version "
        "an exhibit of the fleet reports; none: nothing to compare with"
    )
    self_test_max_age_s: float = Field(description="how long a passed self-test counts")
    exhibits: list[ExhibitReadiness]


class SelfTestAll(BaseModel):
    """Self-test every exhibit of a visit at once."""

    model_config = ConfigDict(extra="forbid")

    seconds: float | None = Field(
        default=None,
        gt=0,
        le=600,
        description="how long each exhibit waits for presses, up to 600 s (default: "
        "FLEET_READINESS_SELF_TEST_S)",
    )
