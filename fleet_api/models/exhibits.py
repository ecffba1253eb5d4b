"""Exhibit models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from broker.messages import InputName
from fleet_api.models.fields import (
    ExhibitId,
    Flag,
    Notes,
    Text200,
    TextRules,
    not_null,
    refuse_null,
)


def _unique_inputs(names: list[str]) -> list[str]:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"inputs lists {', '.join(duplicates)} more than once")
    return names


Inputs = Annotated[
    list[InputName],
    Field(
        max_length=32,
        description="the input names its agent is configured with",
        json_schema_extra={"uniqueItems": True},
    ),
    AfterValidator(_unique_inputs),
]
Kind = Annotated[str, TextRules(64), Field(description="what sort of exhibit")]
ConfigHash = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="the config hash its agent should report at birth (`exhibit-agent status` "
        "shows it; null: nothing expected)",
    ),
]


class ExhibitCreate(BaseModel):
    """Register an exhibit under the id its Pi uses in MQTT topics."""

    model_config = ConfigDict(extra="forbid")

    id: ExhibitId
    name: Text200
    kind: Kind | None = None
    inputs: Inputs = []
    notes: Notes | None = None
    expected_config_hash: ConfigHash | None = None


class ExhibitUpdate(BaseModel):
    """Change an exhibit's description: only the fields given change (its id never does).

    ``retired: true`` retires it (no new visits; its data and history stay), ``false``
    brings it back into service.
    """

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = not_null()
    kind: Kind | None = None
    inputs: Inputs | None = not_null()
    notes: Notes | None = None
    expected_config_hash: ConfigHash | None = None
    retired: Flag | None = not_null("true to retire, false to restore")

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        refuse_null(self, ("name", "inputs", "retired"))
        return self


class ExhibitStatusPublic(BaseModel):
    """The latest status and heartbeat seen from an exhibit."""

    online: bool | None
    status_at: datetime | None
    last_seen_at: datetime
    boot_id: str | None
    agent_version: str | None
    config_hash: str | None = Field(default=None, description="as its latest birth said")
    inputs: list[str] | None = Field(
        default=None, description="the input names its latest birth said it counts"
    )


class ExhibitPublic(BaseModel):
    """A registered exhibit; ``status`` is None until it has said anything."""

    id: str
    name: str
    created_at: datetime
    status: ExhibitStatusPublic | None = None
    kind: str | None = None
    inputs: list[str] = []
    notes: str | None = None
    expected_config_hash: str | None = None
    retired_at: datetime | None = Field(default=None, description="set while it is retired")
