"""Bounds of never-synced records and staff's placements of unplaced ones (issue 16).

One new table, ``record_bounds`` (see ``fleet_api/tables_bounds.py``). Records stored
before this revision were placed by the old rules; ``fleet-api`` re-settles an
exhibit's never-synced records the next time it sends anything.

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
    """Create ``record_bounds``."""
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


def downgrade() -> None:
    """Drop ``record_bounds``."""
    op.drop_index("ix_record_bounds_unplaced_exhibit_id", table_name="record_bounds")
    op.drop_table("record_bounds")
