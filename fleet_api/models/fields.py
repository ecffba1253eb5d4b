"""Field types shared by the API models."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

from broker.limits import SEQ_MAX
from broker.messages import ExhibitId as ExhibitId


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An aware datetime (naive ones are a 422), converted to UTC."""

DbId = Annotated[int, Field(ge=1, le=SEQ_MAX)]
"""A database id: positive and within 64 bits, so the database never overflows."""

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A name: 1-200 characters once surrounding whitespace is removed."""

Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
"""Free text of up to 4000 characters."""


def refuse_null(model: BaseModel, required: Iterable[str]) -> None:
    """ValueError naming the ``required`` fields an update sets to null explicitly."""
    cleared = sorted(
        name for name in required if name in model.model_fields_set and getattr(model, name) is None
    )
    if cleared:
        raise ValueError(f"{', '.join(cleared)} cannot be null")
