"""A bounded quarantine and kept seq conflicts.

``quarantine`` gets ``exhibit_id`` (whose topic it came on: the per-exhibit rate),
``size`` (bytes kept: the total bound) and ``stored`` (a conflict's stored records), with
indexes for the rate and the retention. ``quarantine_totals`` keeps the running total and
what was dropped, ``quarantine_rates`` what each exhibit kept in the current hour, and
``exhibit_conflicts`` counts records that reused a stored seq with another body.
Existing rows get their size, and their exhibit id from their topic.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fleet_api.tables import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREFIX = "fleet/v1/exhibits/"


def upgrade() -> None:
    """Add the columns, indexes and tables; fill them in for the rows there are."""
    op.add_column("quarantine", sa.Column("exhibit_id", sa.String(64), nullable=True))
    op.add_column(
        "quarantine", sa.Column("size", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column("quarantine", sa.Column("stored", sa.Text(), nullable=True))
    op.create_index(
        "ix_quarantine_exhibit_id_received_at", "quarantine", ["exhibit_id", "received_at"]
    )
    op.create_index("ix_quarantine_received_at", "quarantine", ["received_at"])
    totals = op.create_table(
        "quarantine_totals",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("dropped_rate", sa.BigInteger(), nullable=False),
        sa.Column("dropped_size", sa.BigInteger(), nullable=False),
        sa.Column("expired", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_totals")),
    )
    op.create_table(
        "quarantine_rates",
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("kept", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sender", name=op.f("pk_quarantine_rates")),
    )
    op.create_table(
        "exhibit_conflicts",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("restarts", sa.BigInteger(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exhibit_id"],
            ["exhibits.id"],
            name=op.f("fk_exhibit_conflicts_exhibit_id_exhibits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("exhibit_id", name=op.f("pk_exhibit_conflicts")),
    )
    _backfill(totals)


def _backfill(totals: sa.Table) -> None:
    connection = op.get_bind()
    table = sa.table(
        "quarantine",
        sa.column("id", sa.BigInteger()),
        sa.column("topic", sa.Text()),
        sa.column("payload", sa.LargeBinary()),
        sa.column("detail", sa.Text()),
        sa.column("exhibit_id", sa.String(64)),
        sa.column("size", sa.BigInteger()),
    )
    # As fleet_api/store/quarantine_bounds.py measures a row: payload, detail and topic.
    size = (
        sa.func.coalesce(sa.func.length(table.c.payload), 0)
        + sa.func.length(table.c.detail)
        + sa.func.length(table.c.topic)
    )
    connection.execute(table.update().values(size=size))
    for row in connection.execute(sa.select(table.c.id, table.c.topic)).all():
        parts = row.topic.removeprefix(_PREFIX).split("/")
        if row.topic.startswith(_PREFIX) and len(parts) == 2 and len(parts[0]) <= 64:
            connection.execute(
                table.update().where(table.c.id == row.id).values(exhibit_id=parts[0])
            )
    rows, total = connection.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(table.c.size), 0))
    ).one()
    connection.execute(
        totals.insert().values(
            id=1, rows=rows, bytes=total, dropped_rate=0, dropped_size=0, expired=0
        )
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("exhibit_conflicts")
    op.drop_table("quarantine_rates")
    op.drop_table("quarantine_totals")
    op.drop_index("ix_quarantine_received_at", table_name="quarantine")
    op.drop_index("ix_quarantine_exhibit_id_received_at", table_name="quarantine")
    op.drop_column("quarantine", "stored")
    op.drop_column("quarantine", "size")
    op.drop_column("quarantine", "exhibit_id")
