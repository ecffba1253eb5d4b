"""Exhibit configuration models: a version to push, and the history with each outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from broker.messages import ConfigOutcome

VersionOutcome = ConfigOutcome | Literal["superseded"]
"""What the exhibit reported of a version, or ``superseded`` (the fleet's reading)."""


class ConfigPut(BaseModel):
    """A new configuration for an exhibit: inputs, outputs, behaviours (see docs/controller.md).

    It is checked with the agent's own rules (``broker.exhibit_config``); a mistake is a 422
    whose ``detail`` is the line the agent would refuse it with.
    """

    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] = Field(
        description='the document, e.g. {"inputs": [{"name": "button", "kind": "button", '
        '"pin": 17}], "outputs": [{"name": "lamp", "kind": "led", "pin": 5}], "behaviours": '
        '[{"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5}]}'
    )
    force: bool = Field(
        default=False,
        description="apply it even while the exhibit is in a visit (otherwise it waits until "
        "the visit ends)",
    )


class ConfigVersionPublic(BaseModel):
    """One version of an exhibit's configuration and what the exhibit reported of it."""

    exhibit_id: str
    version: int
    config: dict[str, Any]
    config_hash: str = Field(description="what the exhibit reports in its status once it runs it")
    force: bool
    issued_at: datetime
    issued_by: str
    outcome: VersionOutcome | None = Field(
        default=None,
        description="applied; waiting (until its visit ends); refused (see reason); "
        "superseded: a newer version was pushed before the exhibit applied or refused this "
        "one (it only ever applies the newest, so this one never will; see superseded_by); "
        "absent: not reported yet",
    )
    superseded_by: int | None = Field(
        default=None,
        description="with outcome superseded: the version pushed next, which replaced it",
    )
    reason: str | None = Field(default=None, description="why the exhibit refused it")
    outcome_at: datetime | None = Field(default=None, description="by the exhibit's clock")
    reported_at: datetime | None = None
