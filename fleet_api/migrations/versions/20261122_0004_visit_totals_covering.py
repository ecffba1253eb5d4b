"""Per-visit totals and covering indexes for the usage and report queries.

``visit_exhibit_totals`` holds ``usage_hourly`` and ``session_hourly`` summed per
(visit, exhibit), so a report over a year reads one row per visit and exhibit instead of
every hourly cell; it is backfilled from the hourly rollups and from then on kept by the
same deltas. The index on each record table's ``attributed_visit_id`` is replaced by one
that also holds what a visit's usage reads of its records (exhibit, time, length, count,
time basis, seq), so that read never looks up the table row by row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERING = {
    "count_records": (
        "ix_count_records_attributed_visit_id_covering",
        [
            "attributed_visit_id",
            "exhibit_id",
            "corrected_start",
            "seconds",
            "count",
            "time_basis",
            "seq",
        ],
    ),
    "session_records": (
        "ix_session_records_attributed_visit_id_covering",
        ["attributed_visit_id", "exhibit_id", "time_basis", "seq", "dwell_s"],
    ),
}

# Frozen with this revision: the hourly rollups summed per (visit, exhibit).
BACKFILL = """
INSERT INTO visit_exhibit_totals (visit_id, exhibit_id, interactions, records, sessions)
SELECT visit_id, exhibit_id, SUM(interactions), SUM(records), SUM(sessions)
FROM (
    SELECT visit_id, exhibit_id, "count" AS interactions, records, 0 AS sessions
    FROM usage_hourly
    UNION ALL
    SELECT visit_id, exhibit_id, 0, 0, sessions FROM session_hourly
) AS cells
GROUP BY visit_id, exhibit_id
"""


def upgrade() -> None:
    """Create and backfill visit_exhibit_totals; widen the attributed-visit indexes."""
    op.create_table(
        "visit_exhibit_totals",
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("interactions", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "interactions >= 0 AND records >= 0 AND sessions >= 0",
            name=op.f("ck_visit_exhibit_totals_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name="fk_visit_exhibit_totals_exhibit_id_exhibits"
        ),
        sa.PrimaryKeyConstraint("visit_id", "exhibit_id", name="pk_visit_exhibit_totals"),
        sqlite_with_rowid=False,
    )
    op.execute(BACKFILL)
    for table, (name, columns) in COVERING.items():
        op.drop_index(f"ix_{table}_attributed_visit_id", table_name=table)
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Drop visit_exhibit_totals and restore the single-column indexes."""
    for table, (name, _columns) in COVERING.items():
        op.drop_index(name, table_name=table)
        op.create_index(f"ix_{table}_attributed_visit_id", table, ["attributed_visit_id"])
    op.drop_table("visit_exhibit_totals")
