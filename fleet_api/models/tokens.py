"""API token models: the secret itself appears once, in :class:`TokenCreated`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from fleet_api.auth import Role
from fleet_api.models.fields import Text200


class TokenCreate(BaseModel):
    """A new token for a person or a program, with the role it acts in."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 = Field(description="who or what uses the token, e.g. 'Anna' or 'grafana'")
    role: Role


class TokenPublic(BaseModel):
    """A stored token, without its secret; ``revoked_at`` is set once it is revoked."""

    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    """A token just created: ``token`` is the bearer secret, shown this once only."""

    token: str = Field(description="send as 'Authorization: Bearer <token>'; not shown again")
