"""Alert changes and their notifications: states, events, and the delivery outbox.

``alert_states`` keeps each alert whose condition holds or that was raised and not yet
resolved, so that a restart neither repeats a raise nor forgets one; ``alert_events``
every raise and resolve with the JSON body that notifies it; ``notification_deliveries``
one row per event and destination (webhook or e-mail), worked through with retries
until delivered, at least once. New tables only: nothing to backfill.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BOOL = sa.Boolean(create_constraint=False)


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "alert_states",
        sa.Column("alert_id", sa.String(200), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("exhibit_id", sa.String(64), nullable=True),
        sa.Column("visit_id", sa.BigInteger(), nullable=True),
        sa.Column("active", BOOL, nullable=False),
        sa.Column("changed_at", UTC_TIME, nullable=False),
        sa.Column("since", UTC_TIME, nullable=False),
        sa.Column("raised", BOOL, nullable=False),
        sa.Column("episode_id", sa.String(32), nullable=True),
        sa.Column("raised_at", UTC_TIME, nullable=True),
        sa.Column("resolved_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alert_states"),
    )
    op.create_table(
        "alert_events",
        sa.Column("event_id", sa.String(48), nullable=False),
        sa.Column("alert_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_alert_events"),
    )
    op.create_index("ix_alert_events_at", "alert_events", ["at"])
    op.create_index("ix_alert_events_alert_id_at", "alert_events", ["alert_id", "at"])
    op.create_table(
        "notification_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(48), nullable=False),
        sa.Column("alert_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("destination", sa.String(254), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("lease_until", UTC_TIME, nullable=True),
        sa.Column("delivered_at", UTC_TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed', 'dropped')",
            name=op.f("ck_notification_deliveries_state"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["alert_events.event_id"],
            name="fk_notification_deliveries_event_id_alert_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_deliveries"),
        sa.UniqueConstraint(
            "event_id", "channel", "destination", name="uq_notification_deliveries_target"
        ),
    )
    op.create_index(
        "ix_notification_deliveries_state_next_attempt_at",
        "notification_deliveries",
        ["state", "next_attempt_at"],
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("notification_deliveries")
    op.drop_table("alert_events")
    op.drop_table("alert_states")
