"""The database schema as SQLAlchemy Core tables; the Alembic migrations create exactly this
(with :mod:`fleet_api.tables_domain`: programmes and the audit trail,
:mod:`fleet_api.tables_ingest`: the quarantine, its totals, seq conflicts, and
:mod:`fleet_api.tables_places`: canonical places).

Every timestamp is stored in UTC (:class:`UTCDateTime`): SQLite has no time zones, and
its fixed-width text format keeps ``<`` comparisons right only if every value is UTC.
``count_records`` is keyed by (exhibit_id, seq), the agent's persistent gap-free
sequence, which is what makes ingestion idempotent; ``session_records`` shares it. Both
carry where ingestion placed each record (:func:`placement_columns`); ``usage_hourly``/
``session_hourly`` roll them up (``visit_exhibit_totals`` per visit and exhibit),
``exhibit_seq_ranges`` says which seqs arrived, ``boot_clocks`` the clock of each boot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
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
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)

# Names for constraints, so later migrations can alter them on both backends.
metadata: MetaData = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = BigInteger().with_variant(Integer(), "sqlite")  # autoincrements on SQLite too


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


UNASSIGNED = 0
"""The visit id rollups use for records of no visit: a key column cannot be NULL."""


def placement_columns() -> list[Column[Any]]:
    """Where ingestion placed a record: corrected time, how it was corrected, its visit.

    See :mod:`fleet_api.attribution`. ``attributed_visit_id`` NULL means unassigned.
    """
    return [
        Column("corrected_start", UTCDateTime(), nullable=False),
        Column("time_basis", String(8), nullable=False),
        Column("attributed_visit_id", BigInteger, nullable=True),
    ]


exhibits = Table(
    "exhibits",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("kind", String(64), nullable=True),
    # The input names the exhibit's agent is configured with (Status.inputs says the same).
    Column("inputs", JSON(), nullable=False, server_default=text("'[]'")),
    Column("notes", Text, nullable=True),
    # The config hash its agent should report (Status.config_hash): set by a technician
    # (or, later, by the fleet when it pushes a configuration). NULL: nothing expected yet.
    Column("expected_config_hash", String(64), nullable=True),
    Column("retired_at", UTCDateTime(), nullable=True),
)

schools = Table(
    "schools",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("municipality", String(200), nullable=False),
    Column("region", String(200), nullable=False),
    Column("address", String(500), nullable=True),
    # 'rural' or 'urban', checked by the API: SQLite can add a CHECK only by rebuilding
    # the table, which its foreign keys from visits make unsafe.
    Column("area", String(8), nullable=True),
    Column("archived_at", UTCDateTime(), nullable=True),
    # The canonical places (``places.code``; :mod:`fleet_api.tables_places`). NULL: the
    # free text above could not be mapped (kept as entered, and flagged to staff).
    Column("municipality_code", String(40), nullable=True),
    Column("region_code", String(40), nullable=True),
    Index("ix_schools_municipality_code", "municipality_code"),
)

visits = Table(
    "visits",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("school_id", BigInteger, ForeignKey("schools.id"), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("pupils", Integer, nullable=True),
    Column("grades", JSON(), nullable=True),
    Column("staff", String(200), nullable=True),
    Column("notes", Text, nullable=True),
    Column("checked_out_at", UTCDateTime(), nullable=True),
    Column("checked_in_at", UTCDateTime(), nullable=True),
    # Staff's decision, planned/held/cancelled (models.visits.effective_status reads it).
    Column("status", String(16), nullable=False, server_default=text("'planned'")),
    Column("status_reason", Text, nullable=True),
    Column("teachers", Integer, nullable=True),
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
    *placement_columns(),
    PrimaryKeyConstraint("exhibit_id", "seq"),
    Index("ix_count_records_visit_id", "visit_id"),
    Index("ix_count_records_exhibit_id_corrected_start", "exhibit_id", "corrected_start"),
    Index("ix_count_records_exhibit_id_boot_id", "exhibit_id", "boot_id"),
    # Covers what a visit's usage reads of its own records (time in use, seq span,
    # unsynced records) without a table lookup per record; its prefix serves re-attribution.
    Index(
        "ix_count_records_attributed_visit_id_covering",
        "attributed_visit_id",
        "exhibit_id",
        "corrected_start",
        "seconds",
        "count",
        "time_basis",
        "seq",
    ),
    # 23% smaller with the primary key as the storage key (measured in FINDINGS.md).
    sqlite_with_rowid=False,
)

session_records = Table(
    "session_records",
    metadata,
    Column("exhibit_id", String(64), ForeignKey("exhibits.id"), nullable=False),
    # The same per-exhibit seq stream as count_records: a seq is in one table or the other.
    Column("seq", BigInteger, nullable=False),
    Column("start", UTCDateTime(), nullable=False),
    Column("mono_start", Double(), nullable=False),
    Column("dwell_s", Double(), nullable=False),
    Column("interactions", Integer, nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("clock_synced", Boolean(create_constraint=False), nullable=False),
    Column("visit_id", BigInteger, nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    *placement_columns(),
    PrimaryKeyConstraint("exhibit_id", "seq"),
    Index("ix_session_records_visit_id", "visit_id"),
    Index("ix_session_records_exhibit_id_corrected_start", "exhibit_id", "corrected_start"),
    Index("ix_session_records_exhibit_id_boot_id", "exhibit_id", "boot_id"),
    Index(
        "ix_session_records_attributed_visit_id_covering",
        "attributed_visit_id",
        "exhibit_id",
        "time_basis",
        "seq",
        "dwell_s",
    ),
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
    # What the latest birth said of the agent's configuration (absent from a last will).
    Column("config_hash", String(64), nullable=True),
    Column("reported_inputs", JSON(), nullable=True),
    Column("config_version", BigInteger, nullable=True),  # the fleet's version it runs (0011)
    # The highest version it answered on `configured`, recorded or not (0015).
    Column("config_version_answered", BigInteger, nullable=True),
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

boot_clocks = Table(
    "boot_clocks",
    metadata,
    # The first synced reference of each boot: wall time ``ref_wall`` at monotonic
    # ``ref_mono``. Unsynced records of the boot are re-based from it.
    Column("exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("ref_wall", UTCDateTime(), nullable=False),
    Column("ref_mono", Double(), nullable=False),
    Column("source", String(16), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("exhibit_id", "boot_id"),
)

usage_hourly = Table(
    "usage_hourly",
    metadata,
    # Interactions per (visit, exhibit, input, UTC hour); visit_id UNASSIGNED (0) for
    # records of no visit. Maintained in the transaction that inserts or moves records.
    Column("visit_id", BigInteger, nullable=False),
    Column("exhibit_id", String(64), ForeignKey("exhibits.id"), nullable=False),
    Column("input", String(32), nullable=False),
    Column("hour", UTCDateTime(), nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    PrimaryKeyConstraint("visit_id", "exhibit_id", "input", "hour"),
    CheckConstraint("count >= 0 AND records >= 0", name="not_negative"),
    Index("ix_usage_hourly_exhibit_id_hour", "exhibit_id", "hour"),
)

session_hourly = Table(
    "session_hourly",
    metadata,
    Column("visit_id", BigInteger, nullable=False),
    Column("exhibit_id", String(64), ForeignKey("exhibits.id"), nullable=False),
    Column("hour", UTCDateTime(), nullable=False),
    Column("sessions", BigInteger, nullable=False),
    Column("interactions", BigInteger, nullable=False),
    Column("dwell_s", Double(), nullable=False),
    PrimaryKeyConstraint("visit_id", "exhibit_id", "hour"),
    CheckConstraint("sessions >= 0 AND interactions >= 0", name="not_negative"),
    Index("ix_session_hourly_exhibit_id_hour", "exhibit_id", "hour"),
)

visit_exhibit_totals = Table(
    "visit_exhibit_totals",
    metadata,
    # usage_hourly and session_hourly summed over their inputs and hours: a report of a
    # year reads one row per visit and exhibit instead of ~20. Maintained with them.
    Column("visit_id", BigInteger, nullable=False),
    Column("exhibit_id", String(64), ForeignKey("exhibits.id"), nullable=False),
    Column("interactions", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("sessions", BigInteger, nullable=False),
    PrimaryKeyConstraint("visit_id", "exhibit_id"),
    CheckConstraint("interactions >= 0 AND records >= 0 AND sessions >= 0", name="not_negative"),
    sqlite_with_rowid=False,
)

exhibit_seq_ranges = Table(
    "exhibit_seq_ranges",
    metadata,
    # Maximal runs of seqs received (count and session records alike); the gaps between
    # them, and before the first, are what has not arrived (yet).
    Column("exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("exhibit_id", "first_seq"),
    CheckConstraint("last_seq >= first_seq AND first_seq >= 1", name="ordered"),
)


def _health_columns() -> list[Column[Any]]:
    """What a heartbeat says, as stored for the latest one and in the history."""
    return [
        Column("at", UTCDateTime(), nullable=False),
        Column("received_at", UTCDateTime(), nullable=False),
        Column("boot_id", String(64), nullable=False),
        Column("uptime_s", Double(), nullable=False),
        Column("clock_synced", Boolean(create_constraint=False), nullable=False),
        Column("outbox_depth", BigInteger, nullable=False),
        Column("cpu_temp_c", Double(), nullable=True),
        Column("under_voltage", Boolean(create_constraint=False), nullable=True),
        Column("throttled", Boolean(create_constraint=False), nullable=True),
        Column("disk_free_bytes", BigInteger, nullable=True),
        Column("mem_available_bytes", BigInteger, nullable=True),
        Column("wifi_signal_dbm", Double(), nullable=True),
        Column("retained_from_seq", BigInteger, nullable=True),  # 0012: what it can resend
        Column("retained_records", BigInteger, nullable=True),
        # The agent's own subscriptions the broker refused (topic filter -> reason).
        Column("refused_subscriptions", JSON(), nullable=True),
    ]


exhibit_heartbeats = Table(
    "exhibit_heartbeats",
    metadata,
    Column(
        "exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), primary_key=True
    ),
    *_health_columns(),
)

heartbeat_history = Table(
    "heartbeat_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), nullable=False),
    *_health_columns(),
    Index("ix_heartbeat_history_exhibit_id_received_at", "exhibit_id", "received_at"),
    Index("ix_heartbeat_history_received_at", "received_at"),
)

# Tables defined next door (this module is long enough) join this metadata when imported:
# the domain's (visit lifecycle, programmes, audit) and the alerts' and notifications'.
import fleet_api.alert_tables  # noqa: E402
import fleet_api.tables_config  # noqa: E402, F401 - pushed configurations
from fleet_api import tables_custody as tables_custody  # noqa: E402 - its tables join this metadata
from fleet_api import tables_domain as tables_domain  # noqa: E402 - its tables join this metadata
from fleet_api import tables_places as tables_places  # noqa: E402 - its tables join this metadata
from fleet_api.tables_bounds import record_bounds as record_bounds  # noqa: E402 - the same
from fleet_api.tables_commands import exhibit_assignments as exhibit_assignments  # noqa: E402
from fleet_api.tables_commands import exhibit_commands as exhibit_commands  # noqa: E402
from fleet_api.tables_commands import self_test_results as self_test_results  # noqa: E402
from fleet_api.tables_ingest import quarantine as quarantine  # noqa: E402 - the same
