"""Field types shared by the API models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from broker.messages import SEQ_MAX
from broker.messages import ExhibitId as ExhibitId


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An aware datetime (naive ones are a 422), converted to UTC."""

DbId = Annotated[int, Field(ge=1, le=SEQ_MAX)]
"""A database id: positive and within 64 bits, so the database never overflows."""

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A name: 1-200 characters once surrounding whitespace is removed."""
