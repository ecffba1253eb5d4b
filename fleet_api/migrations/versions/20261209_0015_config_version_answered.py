"""The highest configuration version each exhibit has answered, known to the fleet or not.

``exhibit_status.config_version_answered``: the highest version an exhibit reported on
``configured`` (applied, waiting, refused), kept even when the fleet has no record of
that version (a fleet restored from a backup older than its last push). A new version
is numbered above it and above the version the exhibit's birth says it runs
(:func:`fleet_api.store.configs.next_version`), so the agent, which ignores a version at
or below the one it runs, takes the next push. Nullable: nothing answered yet.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``exhibit_status.config_version_answered``."""
    op.add_column(
        "exhibit_status", sa.Column("config_version_answered", sa.BigInteger(), nullable=True)
    )


def downgrade() -> None:
    """Drop it again (plain DROP COLUMN, SQLite 3.35+)."""
    op.drop_column("exhibit_status", "config_version_answered")
