"""Commands that expire, may be forced, are reported done and cleared; self-test presses.

- ``exhibit_commands.expires_at`` (the command's own expiry, also its MQTT v5 Message
  Expiry Interval), ``force`` (a self-test even while the exhibit is in a visit),
  ``outcome`` and ``outcome_at`` (what the exhibit reported it did, by its clock),
  ``reported_at`` (when the fleet received that) and ``cleared_at`` (when the fleet
  deleted the retained command). Commands sent before this revision have none of them.
- ``self_test_results.taken``: interactions a self-test window took out of the counts,
  by count name (the fleet's self-test presses); absent from older agents' results.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the columns (all nullable or defaulted: older rows keep their meaning)."""
    op.add_column("exhibit_commands", sa.Column("expires_at", UTC_TIME, nullable=True))
    op.add_column(
        "exhibit_commands",
        sa.Column(
            "force",
            sa.Boolean(create_constraint=False),
            nullable=False,
            server_default=sa.false(),
        ),
    )
    op.add_column("exhibit_commands", sa.Column("outcome", sa.String(32), nullable=True))
    op.add_column("exhibit_commands", sa.Column("outcome_at", UTC_TIME, nullable=True))
    op.add_column("exhibit_commands", sa.Column("reported_at", UTC_TIME, nullable=True))
    op.add_column("exhibit_commands", sa.Column("cleared_at", UTC_TIME, nullable=True))
    op.add_column("self_test_results", sa.Column("taken", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop them again (plain DROP COLUMN, SQLite 3.35+)."""
    op.drop_column("self_test_results", "taken")
    for column in ("cleared_at", "reported_at", "outcome_at", "outcome", "force", "expires_at"):
        op.drop_column("exhibit_commands", column)
