"""Bounds of never-synced records and staff's placements of unplaced ones (issue 16).

Two new tables, ``record_bounds`` and ``unsynced_boots`` (``fleet_api/tables_bounds.py``).
Records stored before this revision keep the placement the old rules gave them until a
visit of their exhibit is created or changed, or a later record of their boot or a
synced record next to them in seq order arrives: then they are settled by bounds.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``record_bounds`` and ``unsynced_boots``."""
    op.create_table(
        "record_bounds",
        sa.Column("exhibit_id", sa.String(64), sa.ForeignKey("exhibits.id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("earliest", UTC_TIME, nullable=True),
        sa.Column("latest", UTC_TIME, nullable=True),
        sa.Column("unplaced", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("assigned_visit_id", sa.BigInteger(), nullable=True),
        sa.Column("assigned_by", sa.String(200), nullable=True),
        sa.Column("assigned_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("exhibit_id", "seq"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_record_bounds_unplaced_exhibit_id", "record_bounds", ["unplaced", "exhibit_id"]
    )
    op.create_table(
        "unsynced_boots",
        sa.Column("exhibit_id", sa.String(64), sa.ForeignKey("exhibits.id"), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("low", UTC_TIME, nullable=True),
        sa.Column("high", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("exhibit_id", "boot_id"),
    )


def downgrade() -> None:
    """Drop ``record_bounds`` and ``unsynced_boots``."""
    op.drop_table("unsynced_boots")
    op.drop_index("ix_record_bounds_unplaced_exhibit_id", table_name="record_bounds")
    op.drop_table("record_bounds")
