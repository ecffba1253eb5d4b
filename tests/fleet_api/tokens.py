"""API tokens for tests: a fixed admin token the app bootstraps, and tokens per role."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fleet_api.auth import Role
from fleet_api.store.audit import Actor
from fleet_api.store.tokens import create_token

TEST_ACTOR = Actor(name="test set-up", via="system")
"""Who makes the changes a test sets up directly through the data-access functions."""

ADMIN_TOKEN = "fleet_test-admin-token-0123456789abcdefghijklmn"
"""Every test app has it (``FLEET_BOOTSTRAP_ADMIN_TOKEN``)."""


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


ADMIN_HEADERS = bearer(ADMIN_TOKEN)


def add_token(engine: Engine, role: Role | str, name: str | None = None) -> str:
    """Store a new token of ``role`` and return its secret."""
    with Session(engine) as session:
        created = create_token(
            session, name=name or f"test {role}", role=Role(role), actor=TEST_ACTOR
        )
        return created.token
