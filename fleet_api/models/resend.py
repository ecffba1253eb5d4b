"""Resend models: ask an exhibit to send its records again, from a seq on."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fleet_api.models.fields import ID_MAX, Number


class ResendCreate(BaseModel):
    """Ask an exhibit to send again every record it still holds from ``from_seq`` on."""

    model_config = ConfigDict(extra="forbid")

    from_seq: Annotated[int, Field(ge=1, le=ID_MAX), Number] | None = Field(
        default=None,
        description="the first seq to send again; omitted: the first seq the fleet lacks "
        "(at or above the oldest one the exhibit still holds). Up to 2^53 - 1, the largest "
        "integer every JSON client reads exactly; `fleet-api resend --from-seq` takes any seq",
    )


class ResendPublic(BaseModel):
    """A resend request: from which seq, why, and when the broker took it."""

    command_id: str
    exhibit_id: str
    from_seq: int = Field(
        description="what the exhibit is asked for: never above an earlier request it may "
        "not have acted on yet (a newer retained request replaces the older at the broker)"
    )
    reason: Literal["technician", "restore"]
    requested_at: datetime
    sent_at: datetime | None = Field(
        description="when the broker acknowledged it; None: the running service sends it "
        "as soon as it is connected"
    )
