"""``/tokens``: API tokens for people and programs (admin only).

The secret is in the response to ``POST /tokens`` and nowhere else, ever: only its hash
is stored, and nothing logs it. ``fleet-api token ...`` does the same from a shell.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from fleet_api.deps import (
    AUTH_RESPONSES,
    LIST_RESPONSES,
    AdminAccess,
    ApiActor,
    Limit,
    Offset,
    SessionDep,
    set_total,
)
from fleet_api.models.fields import ID_MAX
from fleet_api.models.tokens import TokenCreate, TokenCreated, TokenPublic
from fleet_api.problems import problem_responses
from fleet_api.store import tokens as store

router = APIRouter(
    prefix="/tokens", tags=["tokens"], dependencies=[AdminAccess], responses=AUTH_RESPONSES
)

TokenPath = Annotated[int, Path(ge=1, le=ID_MAX, description="the token's id")]


@router.post("", status_code=201, responses=problem_responses(422))
def create_token(
    token: TokenCreate, session: SessionDep, response: Response, actor: ApiActor
) -> TokenCreated:
    """Create a token; the response is the only place its secret ever appears."""
    created = store.create_token(session, name=token.name, role=token.role, actor=actor)
    response.headers["Location"] = f"/tokens/{created.id}"
    response.headers["Cache-Control"] = "no-store"
    return created


@router.get("", responses=LIST_RESPONSES | problem_responses(422))
def list_tokens(
    session: SessionDep, response: Response, limit: Limit = 100, offset: Offset = 0
) -> list[TokenPublic]:
    """Tokens by id, revoked ones included; never their secrets."""
    set_total(response, store.count_tokens(session))
    return store.list_tokens(session, limit=limit, offset=offset)


@router.get("/{token_id}", responses=problem_responses(404, 422))
def get_token(token_id: TokenPath, session: SessionDep) -> TokenPublic:
    """One token, without its secret."""
    return store.get_token(session, token_id=token_id)


@router.delete("/{token_id}", status_code=204, responses=problem_responses(404, 422))
def revoke_token(token_id: TokenPath, session: SessionDep, actor: ApiActor) -> None:
    """Revoke a token: from now on it gets 401. Revoking it again changes nothing."""
    store.revoke_token(session, token_id=token_id, actor=actor)
