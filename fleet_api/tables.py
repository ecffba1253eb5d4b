"""The database schema as SQLAlchemy Core tables; the Alembic migrations create exactly this.

Every timestamp is stored in UTC (:class:`UTCDateTime`): SQLite has no time zones, and
its fixed-width text format keeps ``<`` comparisons right only if every value is UTC.
``count_records`` is keyed by (exhibit_id, seq), the agent's persistent gap-free
sequence, which is what makes ingestion idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
)

# Names for constraints, so later migrations can alter them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A 64-bit integer primary key that still autoincrements on SQLite (only INTEGER does).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the fleet stores UTC-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return aware UTC datetimes from every backend."""
        if value is None:
            return None
        stored: datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


exhibits = Table(
    "exhibits",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

schools = Table(
    "schools",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("municipality", String(200), nullable=False),
    Column("region", String(200), nullable=False),
)

visits = Table(
    "visits",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("school_id", BigInteger, ForeignKey("schools.id"), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    Index("ix_visits_school_id", "school_id"),
    Index("ix_visits_starts_at", "starts_at"),
)

visit_exhibits = Table(
    "visit_exhibits",
    metadata,
    Column("visit_id", BigInteger, ForeignKey("visits.id", ondelete="CASCADE"), nullable=False),
    Column("exhibit_id", String(64), ForeignKey("exhibits.id"), nullable=False),
    PrimaryKeyConstraint("visit_id", "exhibit_id"),
    Index("ix_visit_exhibits_exhibit_id", "exhibit_id"),
)

count_records = Table(
    "count_records",
    metadata,
    Column("exhibit_id", String(64), ForeignKey("exhibits.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("input", String(32), nullable=False),
    Column("start", UTCDateTime(), nullable=False),
    Column("mono_start", Double(), nullable=False),
    Column("seconds", Double(), nullable=False),
    Column("count", Integer, nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("clock_synced", Boolean(create_constraint=False), nullable=False),
    # The visit the exhibit was assigned to. No foreign key on purpose: a tag naming a
    # visit that does not exist (yet, or any more) must not make the batch fail.
    Column("visit_id", BigInteger, nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("exhibit_id", "seq"),
    Index("ix_count_records_visit_id", "visit_id"),
    Index("ix_count_records_exhibit_id_start", "exhibit_id", "start"),
    # 23% smaller with the primary key as the storage key (measured in FINDINGS.md).
    sqlite_with_rowid=False,
)

exhibit_status = Table(
    "exhibit_status",
    metadata,
    Column(
        "exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), primary_key=True
    ),
    # Unknown until the first status message (a heartbeat alone does not say).
    Column("online", Boolean(create_constraint=False), nullable=True),
    Column("status_at", UTCDateTime(), nullable=True),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("boot_id", String(64), nullable=True),
    Column("agent_version", String(64), nullable=True),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("topic", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_quarantine_reason_received_at", "reason", "received_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    # SHA-256 hex of the token: a leaked database does not leak working tokens.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    CheckConstraint("role IN ('viewer', 'staff', 'technician', 'admin')", name="role"),
)
