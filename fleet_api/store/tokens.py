"""API tokens: create, list, revoke, look up by the hash of a presented token.

Only the SHA-256 digest of a token is stored (see :mod:`fleet_api.auth`). Revoking keeps
the row, so the list still says who had access and until when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, RowMapping, func, select, update
from sqlalchemy.orm import Session

from broker.messages import utc_now
from fleet_api.auth import Caller, Role, hash_token, new_token
from fleet_api.errors import UnknownToken
from fleet_api.models.tokens import TokenCreated, TokenPublic
from fleet_api.store.audit import Actor, record_change
from fleet_api.store.dialect import insert
from fleet_api.tables import api_tokens

BOOTSTRAP_NAME = "bootstrap admin (FLEET_BOOTSTRAP_ADMIN_TOKEN)"


def create_token(
    session: Session, *, name: str, role: Role, actor: Actor, now: datetime | None = None
) -> TokenCreated:
    """Store a new random token for ``name``; the result carries the secret, once."""
    token = new_token()
    created_at = now or utc_now()
    new_id = session.execute(
        api_tokens.insert()
        .values(name=name, role=role.value, token_hash=hash_token(token), created_at=created_at)
        .returning(api_tokens.c.id)
    ).scalar_one()
    record_change(
        session.connection(),
        actor=actor,
        action="token.create",
        entity="token",
        entity_id=new_id,
        after={"name": name, "role": role.value},
        at=created_at,
    )
    session.commit()
    return TokenCreated(
        id=new_id, name=name, role=role, created_at=created_at, revoked_at=None, token=token
    )


def list_tokens(session: Session, *, limit: int, offset: int = 0) -> list[TokenPublic]:
    """Tokens ordered by id, revoked ones included."""
    statement = select(api_tokens).order_by(api_tokens.c.id).limit(limit).offset(offset)
    return [_public(row) for row in session.execute(statement).mappings()]


def count_tokens(session: Session) -> int:
    """How many tokens are stored, revoked ones included."""
    return session.execute(select(func.count()).select_from(api_tokens)).scalar_one()


def get_token(session: Session, *, token_id: int) -> TokenPublic:
    """Token ``token_id`` without its secret; UnknownToken if there is none."""
    row = session.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
    if row is None:
        raise UnknownToken(f"token {token_id} does not exist")
    return _public(row)


def revoke_token(
    session: Session, *, token_id: int, actor: Actor, now: datetime | None = None
) -> TokenPublic:
    """Revoke token ``token_id`` (again is fine: the first time stays); UnknownToken if none."""
    revoked_at = now or utc_now()
    revoked = session.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=revoked_at)
        .returning(api_tokens.c.id)
    ).first()
    row = session.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
    if row is None:
        session.rollback()
        raise UnknownToken(f"token {token_id} does not exist")
    if revoked:
        record_change(
            session.connection(),
            actor=actor,
            action="token.revoke",
            entity="token",
            entity_id=token_id,
            before={"revoked_at": None},
            after={"revoked_at": revoked_at.isoformat()},
            at=revoked_at,
        )
    session.commit()
    return _public(row)


def find_caller(session: Session, *, token: str) -> tuple[Caller, datetime | None] | None:
    """The caller a presented token stands for and when it was revoked; None if unknown."""
    row = (
        session.execute(
            select(
                api_tokens.c.id, api_tokens.c.name, api_tokens.c.role, api_tokens.c.revoked_at
            ).where(api_tokens.c.token_hash == hash_token(token))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Caller(token_id=row["id"], name=row["name"], role=Role(row["role"])), row["revoked_at"]


def ensure_token(
    connection: Connection, *, token: str, name: str, role: Role, now: datetime | None = None
) -> Literal["created", "present", "revoked"]:
    """Store ``token`` unless its hash is stored already; say which, and if it is revoked.

    A revoked token stays revoked: the caller only reports it. Safe to run from several
    workers starting at once: the unique hash decides which one inserts.
    """
    digest = hash_token(token)
    statement = (
        insert(connection, api_tokens)
        .values(name=name, role=role.value, token_hash=digest, created_at=now or utc_now())
        .on_conflict_do_nothing(index_elements=["token_hash"])
        .returning(api_tokens.c.id)
    )
    if connection.execute(statement).first() is not None:
        return "created"
    revoked_at = connection.execute(
        select(api_tokens.c.revoked_at).where(api_tokens.c.token_hash == digest)
    ).scalar_one()
    return "present" if revoked_at is None else "revoked"


def ensure_bootstrap_token(
    engine: Engine, *, token: str
) -> Literal["created", "present", "revoked"]:
    """Make sure the admin token from ``FLEET_BOOTSTRAP_ADMIN_TOKEN`` exists (idempotent)."""
    with engine.begin() as connection:
        return ensure_token(connection, token=token, name=BOOTSTRAP_NAME, role=Role.ADMIN)


def _public(row: RowMapping) -> TokenPublic:
    return TokenPublic(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
