"""Configurations pushed to exhibits, and the version each exhibit runs.

``exhibit_configs``: every version of an exhibit's configuration the broker acknowledged,
with what the exhibit reported of it. ``exhibit_status.config_version``: the fleet's
version its latest birth said it runs (none: its local configuration). New table and a
nullable column: nothing to backfill.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the table and add the column."""
    op.create_table(
        "exhibit_configs",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("config_hash", sa.String(16), nullable=False),
        sa.Column("force", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("issued_at", UTC_TIME, nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("outcome_at", UTC_TIME, nullable=True),
        sa.Column("reported_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(["exhibit_id"], ["exhibits.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("exhibit_id", "version"),
    )
    op.add_column("exhibit_status", sa.Column("config_version", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    op.drop_column("exhibit_status", "config_version")
    op.drop_table("exhibit_configs")
