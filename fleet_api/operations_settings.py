"""Settings of operations: trip readiness (``FLEET_AGENT_CURRENT_VERSION``,
``FLEET_READINESS_*``), with alert changes and notifications
(:class:`fleet_api.notifications.settings.NotificationSettings`); a part of
:class:`fleet_api.settings.Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from fleet_api.agent_versions import valid_version
from fleet_api.notifications.settings import NotificationSettings


class OperationsSettings(NotificationSettings):
    """Trip readiness, and (inherited) alert changes and notifications."""

    agent_current_version: str | None = Field(
        default=None,
        description="the agent version exhibits should run, e.g. 0.2.0 (a PEP 440 version); "
        "unset: the newest version any exhibit reports",
    )
    readiness_self_test_max_age_h: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description="hours a passed self-test counts for trip readiness, up to 720",
    )
    readiness_self_test_s: float = Field(
        default=300.0,
        gt=0,
        le=600,
        description="seconds each exhibit waits for presses when a visit's exhibits are "
        "self-tested together (a technician walks from one to the next), up to 600",
    )

    @field_validator("agent_current_version")
    @classmethod
    def _readiness_agent_version(cls, value: str | None) -> str | None:
        if value is not None and not valid_version(value):
            raise ValueError("not a PEP 440 version")
        return value
