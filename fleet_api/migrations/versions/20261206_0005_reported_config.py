"""What an exhibit's agent reports of its configuration, and what the fleet expects.

``exhibit_status`` keeps the config hash and the input names of the latest birth
message (``Status.config_hash``, ``Status.inputs``) next to the agent version it
already kept; ``exhibits.expected_config_hash`` is the hash the fleet expects, set by a
technician (or by a configuration the fleet pushes), so trip readiness and fleet health
can tell a Pi with the wrong configuration. All nullable: nothing is known until the
next birth, nothing is expected until someone says so.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the reported and expected configuration columns."""
    op.add_column("exhibits", sa.Column("expected_config_hash", sa.String(64), nullable=True))
    op.add_column("exhibit_status", sa.Column("config_hash", sa.String(64), nullable=True))
    op.add_column("exhibit_status", sa.Column("reported_inputs", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop them again (plain DROP COLUMN, SQLite 3.35+: a batch rebuild of exhibits would
    fight the foreign keys pointing at it)."""
    op.drop_column("exhibit_status", "reported_inputs")
    op.drop_column("exhibit_status", "config_hash")
    op.drop_column("exhibits", "expected_config_hash")
