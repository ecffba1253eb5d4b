"""Initial schema: exhibits, schools, visits, count records, status, quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in fleet_api.tables: a migration must not change when the
# application code does.
UTC_TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create every table of the first release."""
    op.create_table(
        "exhibits",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exhibits"),
    )
    op.create_table(
        "schools",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("municipality", sa.String(200), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schools"),
    )
    op.create_table(
        "visits",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("school_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", UTC_TIME, nullable=False),
        sa.Column("ends_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="ck_visits_ends_after_start"),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name="fk_visits_school_id_schools"),
        sa.PrimaryKeyConstraint("id", name="pk_visits"),
    )
    op.create_index("ix_visits_school_id", "visits", ["school_id"])
    op.create_index("ix_visits_starts_at", "visits", ["starts_at"])
    op.create_table(
        "visit_exhibits",
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name="fk_visit_exhibits_visit_id_visits",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name="fk_visit_exhibits_exhibit_id_exhibits"
        ),
        sa.PrimaryKeyConstraint("visit_id", "exhibit_id", name="pk_visit_exhibits"),
    )
    op.create_index("ix_visit_exhibits_exhibit_id", "visit_exhibits", ["exhibit_id"])
    op.create_table(
        "count_records",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("input", sa.String(32), nullable=False),
        sa.Column("start", UTC_TIME, nullable=False),
        sa.Column("mono_start", sa.Double(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("clock_synced", sa.Boolean(), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name="fk_count_records_exhibit_id_exhibits"
        ),
        sa.PrimaryKeyConstraint("exhibit_id", "seq", name="pk_count_records"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_count_records_visit_id", "count_records", ["visit_id"])
    op.create_index("ix_count_records_exhibit_id_start", "count_records", ["exhibit_id", "start"])
    op.create_table(
        "exhibit_status",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=True),
        sa.Column("status_at", UTC_TIME, nullable=True),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=True),
        sa.Column("agent_version", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["exhibit_id"],
            ["exhibits.id"],
            name="fk_exhibit_status_exhibit_id_exhibits",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("exhibit_id", name="pk_exhibit_status"),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
    )
    op.create_index("ix_quarantine_reason_received_at", "quarantine", ["reason", "received_at"])


def downgrade() -> None:
    """Drop every table (all data is lost)."""
    for table in (
        "quarantine",
        "exhibit_status",
        "count_records",
        "visit_exhibits",
        "visits",
        "schools",
        "exhibits",
    ):
        op.drop_table(table)
