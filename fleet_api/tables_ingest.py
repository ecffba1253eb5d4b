"""Tables of what ingestion set aside: the quarantine, its running totals, seq conflicts.

They share :data:`fleet_api.tables.metadata` (that module imports this one and re-exports
``quarantine``), so the migrations and the tests see one schema.

The quarantine is bounded (:mod:`fleet_api.store.quarantine_bounds`): ``exhibit_id`` (from
the topic; NULL when the topic is not one of ours) is what the per-exhibit rate counts,
``size`` what the total size adds up, and ``quarantine_totals`` (one row) keeps the total
and what was dropped, so no bound needs a scan of the table.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from fleet_api.tables import UTCDateTime, metadata

BigId = BigInteger().with_variant(Integer(), "sqlite")  # as in fleet_api.tables

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("topic", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("exhibit_id", String(64), nullable=True),
    Column("size", BigInteger, nullable=False, server_default="0"),
    # A conflict keeps what was stored under the same seqs (JSON), next to the new payload.
    Column("stored", Text, nullable=True),
    Index("ix_quarantine_reason_received_at", "reason", "received_at"),
    Index("ix_quarantine_exhibit_id_received_at", "exhibit_id", "received_at"),
    Index("ix_quarantine_received_at", "received_at"),
)

quarantine_totals = Table(
    "quarantine_totals",
    metadata,
    # One row (id 1), updated in every transaction that adds or removes quarantine rows.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("dropped_rate", BigInteger, nullable=False),
    Column("dropped_size", BigInteger, nullable=False),
    Column("expired", BigInteger, nullable=False),
)

quarantine_rates = Table(
    "quarantine_rates",
    metadata,
    # Messages kept per exhibit (its topic's id, '' for topics not ours) in the current hour
    # window: the rate is what was kept, not what is left, so eviction gives back nothing.
    Column("sender", String(64), primary_key=True),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("kept", BigInteger, nullable=False),
)

exhibit_conflicts = Table(
    "exhibit_conflicts",
    metadata,
    # Records that reused a stored (exhibit, seq) with another body, counted even when
    # their quarantine rows were dropped; ``restarts`` those from another boot than the
    # stored record (its seqs started again: a reflashed card, a restored backup).
    Column(
        "exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("records", BigInteger, nullable=False),
    Column("restarts", BigInteger, nullable=False),
    Column("first_at", UTCDateTime(), nullable=False),
    Column("last_at", UTCDateTime(), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)
