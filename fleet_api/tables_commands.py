"""What the fleet told each exhibit and what became of it: the retained assignment, commands
(with their expiry, force and outcome) and self-test results. Joins
:data:`fleet_api.tables.metadata` when imported (``fleet_api.tables`` imports it).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    false,
)

from fleet_api.tables import UTCDateTime, metadata

exhibit_assignments = Table(
    "exhibit_assignments",
    metadata,
    # The retained Assignment last published to each exhibit (visit_id NULL: cleared).
    Column(
        "exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("visit_id", BigInteger, nullable=True),
    Column("issued_at", UTCDateTime(), nullable=False),
)

exhibit_commands = Table(
    "exhibit_commands",
    metadata,
    Column("command_id", String(64), primary_key=True),
    Column("exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("seconds", Double(), nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    # Migration 0009: its own expiry, force, what the exhibit reported, the retained clear.
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("force", Boolean(create_constraint=False), nullable=False, server_default=false()),
    Column("outcome", String(32), nullable=True),
    Column("outcome_at", UTCDateTime(), nullable=True),
    Column("reported_at", UTCDateTime(), nullable=True),
    Column("cleared_at", UTCDateTime(), nullable=True),
    Index("ix_exhibit_commands_exhibit_id_issued_at", "exhibit_id", "issued_at"),
)

self_test_results = Table(
    "self_test_results",
    metadata,
    Column("exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), nullable=False),
    Column("command_id", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("seen", JSON(), nullable=False),
    Column("passed", Boolean(create_constraint=False), nullable=False),
    Column("taken", JSON(), nullable=True),  # self-test presses by count name (0009)
    PrimaryKeyConstraint("exhibit_id", "command_id"),
    Index("ix_self_test_results_exhibit_id_received_at", "exhibit_id", "received_at"),
)
