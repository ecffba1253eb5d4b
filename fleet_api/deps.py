"""Shared FastAPI dependencies as ``Annotated`` aliases: ``SessionDep``, ``SettingsDep``, ...

They read what the lifespan put on ``app.state``; nothing is built at import time.

Access: every route except ``/healthz``, ``/metrics`` and the docs needs a bearer token
(:mod:`fleet_api.auth`). A router declares the role to read, each write the role it
needs on top::

    router = APIRouter(prefix="/visits", dependencies=[ReadAccess], responses=AUTH_RESPONSES)

    @router.post("", dependencies=[StaffAccess], ...)

A route that needs to know who calls takes ``caller: CurrentToken`` (or
``Annotated[Caller, require(Role.STAFF)]``). The token is looked up once per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fleet_api.auth import Caller, Role, plausible
from fleet_api.errors import DatabaseError, Forbidden, NotAuthenticated
from fleet_api.inbound import MessageSource
from fleet_api.ingest import Ingestor, IngestStats
from fleet_api.models.fields import ID_MAX, UtcDatetime
from fleet_api.problems import problem_responses
from fleet_api.settings import Settings, get_settings
from fleet_api.store.audit import Actor
from fleet_api.store.tokens import find_caller

TOTAL_COUNT = "X-Total-Count"


def get_engine(request: Request) -> Engine:
    """The engine the lifespan created."""
    engine: Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        raise DatabaseError("the database is not open: the app's lifespan has not run")
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session for one request; data-access functions commit what they change."""
    with Session(engine) as session:
        yield session


def get_ingestor(request: Request) -> Ingestor | None:
    """The running ingestion, or None when it is disabled."""
    ingestor: Ingestor | None = getattr(request.app.state, "ingestor", None)
    return ingestor


def get_ingest_stats(request: Request) -> IngestStats:
    """Ingestion counters (all zero when ingestion is disabled)."""
    stats: IngestStats | None = getattr(request.app.state, "ingest_stats", None)
    return stats or IngestStats()


EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
IngestorDep = Annotated[Ingestor | None, Depends(get_ingestor)]
IngestStatsDep = Annotated[IngestStats, Depends(get_ingest_stats)]
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=ID_MAX, description="skip this many items first")]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`fleet-api token create --role ROLE --name NAME`).",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_token(session: SessionDep, credentials: BearerDep) -> Caller:
    """The caller the request's bearer token stands for; 401 if missing, unknown or revoked."""
    if credentials is None:
        raise NotAuthenticated(
            "this needs an API token: send the header 'Authorization: Bearer <token>'"
        )
    token = credentials.credentials
    found = find_caller(session, token=token) if plausible(token) else None
    if found is None:
        raise NotAuthenticated("the bearer token is not valid", invalid_token=True)
    caller, revoked_at = found
    if revoked_at is not None:
        raise NotAuthenticated(
            f"the bearer token was revoked at {revoked_at.isoformat()}", invalid_token=True
        )
    return caller


CurrentToken = Annotated[Caller, Depends(current_token)]


def api_actor(caller: CurrentToken) -> Actor:
    """Who makes this API request, for the audit trail."""
    return Actor.of(caller, via="api")


ApiActor = Annotated[Actor, Depends(api_actor)]
"""The request's token holder as the author of a change (``store.audit``)."""


def require(*roles: Role) -> Any:
    """A dependency letting through tokens whose role allows one of ``roles`` (403 if not).

    Use it in ``dependencies=[...]`` or as ``Annotated[Caller, require(Role.STAFF)]``.
    """
    needed = " or ".join(role.value for role in roles)

    def check(caller: CurrentToken) -> Caller:
        if not caller.may(*roles):
            raise Forbidden(
                f"this needs a {needed} or admin token; this token's role is {caller.role}"
            )
        return caller

    check.__name__ = f"require_{'_or_'.join(role.value for role in roles)}"
    return Depends(check)


ReadAccess: DependsParam = require(Role.VIEWER)
"""Any valid token: every role reads."""
StaffAccess: DependsParam = require(Role.STAFF)
"""Writes to schools and visits."""
TechnicianAccess: DependsParam = require(Role.TECHNICIAN)
"""Writes to exhibits and commands; reading the quarantine."""
AdminAccess: DependsParam = require(Role.ADMIN)
"""Managing tokens."""
AUTH_RESPONSES = problem_responses(401, 403)
"""The OpenAPI ``responses`` of a router whose routes need a token."""
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            TOTAL_COUNT: {
                "description": "how many items match, ignoring limit and offset",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    }
}
"""The OpenAPI ``responses`` entry of a list endpoint (arrays, with the total in a header)."""


@dataclass(frozen=True, slots=True)
class Period:
    """A time range from ``?from=`` and ``?to=``, each optional, ``start < end``."""

    start: datetime | None = None
    end: datetime | None = None


def period(
    start: Annotated[
        UtcDatetime | None,
        Query(alias="from", description="only items at or after this time (with a UTC offset)"),
    ] = None,
    end: Annotated[
        UtcDatetime | None,
        Query(alias="to", description="only items before this time (with a UTC offset)"),
    ] = None,
) -> Period:
    """``?from=&to=`` as a :class:`Period`; 422 naming ``to`` unless it is after ``from``."""
    if start is not None and end is not None and end <= start:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "to"),
                    "msg": f"must be after from ({start.isoformat()})",
                    "input": end.isoformat(),
                }
            ]
        )
    return Period(start, end)


PeriodDep = Annotated[Period, Depends(period)]


def set_total(response: Response, total: int) -> None:
    """Put a list's total (ignoring limit and offset) in the ``X-Total-Count`` header."""
    response.headers[TOTAL_COUNT] = str(total)


def get_publisher(request: Request) -> MessageSource | None:
    """The broker connection of ingestion, for the fleet's messages to exhibits (None if off)."""
    ingestor: Ingestor | None = getattr(request.app.state, "ingestor", None)
    return None if ingestor is None else ingestor.source


PublisherDep = Annotated[MessageSource | None, Depends(get_publisher)]
