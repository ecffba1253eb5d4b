"""Heartbeats say which of the agent's own subscriptions the broker refused.

``refused_subscriptions`` (topic filter -> the broker's reason; {} all granted; NULL not
reported, as by agents before issue 15) on the latest heartbeat and in the history.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("exhibit_heartbeats", "heartbeat_history")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("refused_subscriptions", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("refused_subscriptions")
