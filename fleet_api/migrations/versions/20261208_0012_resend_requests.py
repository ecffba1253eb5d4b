"""Resend requests, and the retained window each heartbeat reports.

- ``resend_requests``: what the fleet asked an exhibit to send again (from which seq,
  why: a technician or a restore from backup) and when the broker took it.
- ``exhibit_heartbeats`` and ``heartbeat_history``: ``retained_from_seq`` (the oldest
  record the exhibit still holds) and ``retained_records`` (confirmed records it keeps);
  NULL for heartbeats stored before this revision or sent by older agents.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fleet_api.tables import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEARTBEAT_TABLES = ("exhibit_heartbeats", "heartbeat_history")


def upgrade() -> None:
    """Create the table and add the nullable columns."""
    op.create_table(
        "resend_requests",
        sa.Column("command_id", sa.String(64), primary_key=True),
        sa.Column(
            "exhibit_id",
            sa.String(64),
            sa.ForeignKey("exhibits.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
    )
    op.create_index(
        "ix_resend_requests_exhibit_id_requested_at",
        "resend_requests",
        ["exhibit_id", "requested_at"],
    )
    op.create_index("ix_resend_requests_sent_at", "resend_requests", ["sent_at"])
    for table in HEARTBEAT_TABLES:
        op.add_column(table, sa.Column("retained_from_seq", sa.BigInteger(), nullable=True))
        op.add_column(table, sa.Column("retained_records", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    for table in HEARTBEAT_TABLES:
        op.drop_column(table, "retained_records")
        op.drop_column(table, "retained_from_seq")
    op.drop_index("ix_resend_requests_sent_at", table_name="resend_requests")
    op.drop_index("ix_resend_requests_exhibit_id_requested_at", table_name="resend_requests")
    op.drop_table("resend_requests")
