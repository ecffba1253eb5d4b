"""Visits, attribution, rollups and fleet health.

Adds the domain fields of exhibits, schools and visits; where ingestion placed each
record (corrected time, time basis, attributed visit); session records; boot clock
references; the hourly rollups; received seq ranges; heartbeats (latest and history);
assignments, commands and self-test results.

Existing count records are backfilled (:mod:`fleet_api.migrations.backfill_0003`, frozen
with this revision): re-based from the first synced record of their boot, attributed to
their tagged visit if it took their exhibit, else to the visit whose window holds their
time; then the rollups and seq ranges are built from them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from fleet_api.migrations.backfill_0003 import backfill_0003

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BOOL = sa.Boolean(create_constraint=False)


def _placement() -> list[sa.Column[Any]]:
    return [
        sa.Column("corrected_start", UTC_TIME, nullable=False),
        sa.Column("time_basis", sa.String(8), nullable=False),
        sa.Column("attributed_visit_id", sa.BigInteger(), nullable=True),
    ]


def _health() -> list[sa.Column[Any]]:
    return [
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("uptime_s", sa.Double(), nullable=False),
        sa.Column("clock_synced", BOOL, nullable=False),
        sa.Column("outbox_depth", sa.BigInteger(), nullable=False),
        sa.Column("cpu_temp_c", sa.Double(), nullable=True),
        sa.Column("under_voltage", BOOL, nullable=True),
        sa.Column("throttled", BOOL, nullable=True),
        sa.Column("disk_free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("mem_available_bytes", sa.BigInteger(), nullable=True),
        sa.Column("wifi_signal_dbm", sa.Double(), nullable=True),
    ]


def _exhibit_fk(table: str, cascade: bool = True) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["exhibit_id"],
        ["exhibits.id"],
        name=f"fk_{table}_exhibit_id_exhibits",
        ondelete="CASCADE" if cascade else None,
    )


def upgrade() -> None:
    """Add the columns and tables, then backfill placement, rollups and seq ranges."""
    _domain_columns()
    _records()
    _derived_tables()
    _fleet_tables()
    backfill_0003(op.get_bind())
    # Known for every row now. SQLite alters a column only by rebuilding the table:
    # keep it WITHOUT ROWID like the original.
    with op.batch_alter_table("count_records", table_kwargs={"sqlite_with_rowid": False}) as batch:
        batch.alter_column("corrected_start", existing_type=UTC_TIME, nullable=False)
        batch.alter_column("time_basis", existing_type=sa.String(8), nullable=False)
    op.drop_index("ix_count_records_exhibit_id_start", table_name="count_records")
    op.create_index(
        "ix_count_records_exhibit_id_corrected_start",
        "count_records",
        ["exhibit_id", "corrected_start"],
    )
    op.create_index(
        "ix_count_records_exhibit_id_boot_id", "count_records", ["exhibit_id", "boot_id"]
    )
    op.create_index(
        "ix_count_records_attributed_visit_id", "count_records", ["attributed_visit_id"]
    )


def _domain_columns() -> None:
    op.add_column("exhibits", sa.Column("kind", sa.String(64), nullable=True))
    op.add_column(
        "exhibits", sa.Column("inputs", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )
    op.add_column("exhibits", sa.Column("notes", sa.Text(), nullable=True))
    op.add_column("schools", sa.Column("address", sa.String(500), nullable=True))
    op.add_column("schools", sa.Column("area", sa.String(8), nullable=True))
    for column in (
        sa.Column("pupils", sa.Integer(), nullable=True),
        sa.Column("grades", sa.JSON(), nullable=True),
        sa.Column("staff", sa.String(200), nullable=True),
        sa.Column("programme", sa.String(200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("checked_out_at", UTC_TIME, nullable=True),
        sa.Column("checked_in_at", UTC_TIME, nullable=True),
    ):
        op.add_column("visits", column)


def _records() -> None:
    # Nullable until the backfill has filled them in.
    op.add_column("count_records", sa.Column("corrected_start", UTC_TIME, nullable=True))
    op.add_column("count_records", sa.Column("time_basis", sa.String(8), nullable=True))
    op.add_column("count_records", sa.Column("attributed_visit_id", sa.BigInteger()))
    op.create_table(
        "session_records",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("start", UTC_TIME, nullable=False),
        sa.Column("mono_start", sa.Double(), nullable=False),
        sa.Column("dwell_s", sa.Double(), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("clock_synced", BOOL, nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", UTC_TIME, nullable=False),
        *_placement(),
        _exhibit_fk("session_records", cascade=False),
        sa.PrimaryKeyConstraint("exhibit_id", "seq", name="pk_session_records"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_session_records_visit_id", "session_records", ["visit_id"])
    op.create_index(
        "ix_session_records_exhibit_id_corrected_start",
        "session_records",
        ["exhibit_id", "corrected_start"],
    )
    op.create_index(
        "ix_session_records_exhibit_id_boot_id", "session_records", ["exhibit_id", "boot_id"]
    )
    op.create_index(
        "ix_session_records_attributed_visit_id", "session_records", ["attributed_visit_id"]
    )


def _derived_tables() -> None:
    op.create_table(
        "boot_clocks",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("ref_wall", UTC_TIME, nullable=False),
        sa.Column("ref_mono", sa.Double(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        _exhibit_fk("boot_clocks"),
        sa.PrimaryKeyConstraint("exhibit_id", "boot_id", name="pk_boot_clocks"),
    )
    op.create_table(
        "usage_hourly",
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("input", sa.String(32), nullable=False),
        sa.Column("hour", UTC_TIME, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "count >= 0 AND records >= 0", name=op.f("ck_usage_hourly_not_negative")
        ),
        _exhibit_fk("usage_hourly", cascade=False),
        sa.PrimaryKeyConstraint("visit_id", "exhibit_id", "input", "hour", name="pk_usage_hourly"),
    )
    op.create_index("ix_usage_hourly_exhibit_id_hour", "usage_hourly", ["exhibit_id", "hour"])
    op.create_table(
        "session_hourly",
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("hour", UTC_TIME, nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("interactions", sa.BigInteger(), nullable=False),
        sa.Column("dwell_s", sa.Double(), nullable=False),
        sa.CheckConstraint(
            "sessions >= 0 AND interactions >= 0", name=op.f("ck_session_hourly_not_negative")
        ),
        _exhibit_fk("session_hourly", cascade=False),
        sa.PrimaryKeyConstraint("visit_id", "exhibit_id", "hour", name="pk_session_hourly"),
    )
    op.create_index("ix_session_hourly_exhibit_id_hour", "session_hourly", ["exhibit_id", "hour"])
    op.create_table(
        "exhibit_seq_ranges",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "last_seq >= first_seq AND first_seq >= 1", name=op.f("ck_exhibit_seq_ranges_ordered")
        ),
        _exhibit_fk("exhibit_seq_ranges"),
        sa.PrimaryKeyConstraint("exhibit_id", "first_seq", name="pk_exhibit_seq_ranges"),
    )


def _fleet_tables() -> None:
    op.create_table(
        "exhibit_heartbeats",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        *_health(),
        _exhibit_fk("exhibit_heartbeats"),
        sa.PrimaryKeyConstraint("exhibit_id", name="pk_exhibit_heartbeats"),
    )
    op.create_table(
        "heartbeat_history",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        *_health(),
        _exhibit_fk("heartbeat_history"),
        sa.PrimaryKeyConstraint("id", name="pk_heartbeat_history"),
    )
    op.create_index(
        "ix_heartbeat_history_exhibit_id_received_at",
        "heartbeat_history",
        ["exhibit_id", "received_at"],
    )
    op.create_index("ix_heartbeat_history_received_at", "heartbeat_history", ["received_at"])
    op.create_table(
        "exhibit_assignments",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=True),
        sa.Column("issued_at", UTC_TIME, nullable=False),
        _exhibit_fk("exhibit_assignments"),
        sa.PrimaryKeyConstraint("exhibit_id", name="pk_exhibit_assignments"),
    )
    op.create_table(
        "exhibit_commands",
        sa.Column("command_id", sa.String(64), nullable=False),
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("issued_at", UTC_TIME, nullable=False),
        _exhibit_fk("exhibit_commands"),
        sa.PrimaryKeyConstraint("command_id", name="pk_exhibit_commands"),
    )
    op.create_index(
        "ix_exhibit_commands_exhibit_id_issued_at",
        "exhibit_commands",
        ["exhibit_id", "issued_at"],
    )
    op.create_table(
        "self_test_results",
        sa.Column("exhibit_id", sa.String(64), nullable=False),
        sa.Column("command_id", sa.String(64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("seen", sa.JSON(), nullable=False),
        sa.Column("passed", BOOL, nullable=False),
        _exhibit_fk("self_test_results"),
        sa.PrimaryKeyConstraint("exhibit_id", "command_id", name="pk_self_test_results"),
    )
    op.create_index(
        "ix_self_test_results_exhibit_id_received_at",
        "self_test_results",
        ["exhibit_id", "received_at"],
    )


def downgrade() -> None:
    """Drop what this revision added (placement, rollups, sessions and health are lost)."""
    for table in (
        "self_test_results",
        "exhibit_commands",
        "exhibit_assignments",
        "heartbeat_history",
        "exhibit_heartbeats",
        "exhibit_seq_ranges",
        "session_hourly",
        "usage_hourly",
        "boot_clocks",
        "session_records",
    ):
        op.drop_table(table)
    for index in (
        "ix_count_records_attributed_visit_id",
        "ix_count_records_exhibit_id_boot_id",
        "ix_count_records_exhibit_id_corrected_start",
    ):
        op.drop_index(index, table_name="count_records")
    op.create_index("ix_count_records_exhibit_id_start", "count_records", ["exhibit_id", "start"])
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch rebuild of exhibits or schools
    # would drop a table that other tables' foreign keys point at.
    for table, columns in (
        ("count_records", ("attributed_visit_id", "time_basis", "corrected_start")),
        (
            "visits",
            ("checked_in_at", "checked_out_at", "notes", "programme", "staff", "grades", "pupils"),
        ),
        ("schools", ("area", "address")),
        ("exhibits", ("notes", "inputs", "kind")),
    ):
        for column in columns:
            op.drop_column(table, column)
