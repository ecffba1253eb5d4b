"""Tables of what a funder audits: programmes delivered on visits, and the audit trail.

They share :data:`fleet_api.tables.metadata` (that module imports this one), so the
migrations and the tests see one schema.

``audit_log`` is append-only: the API offers no way to change it, and the migration adds
a trigger on both backends that refuses any UPDATE or DELETE of its rows.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from fleet_api.tables import BigId, UTCDateTime, metadata

programmes = Table(
    "programmes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    # Target grades, 0 (pre-school) to 12; both NULL when not stated.
    Column("grade_min", Integer, nullable=True),
    Column("grade_max", Integer, nullable=True),
    # 'science', 'technology', 'engineering', 'mathematics' or 'integrated' (checked by the API).
    Column("stem_area", String(16), nullable=True),
    Column("description", Text, nullable=True),
    Column("archived_at", UTCDateTime(), nullable=True),
)

visit_programmes = Table(
    "visit_programmes",
    metadata,
    Column("visit_id", BigInteger, ForeignKey("visits.id", ondelete="CASCADE"), nullable=False),
    Column("programme_id", BigInteger, ForeignKey("programmes.id"), nullable=False),
    PrimaryKeyConstraint("visit_id", "programme_id"),
    Index("ix_visit_programmes_programme_id", "programme_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    # Who: the token (its id, and its name and role at the time), or the program acting.
    Column("actor_token_id", BigInteger, nullable=True),
    Column("actor_name", String(200), nullable=False),
    Column("actor_role", String(16), nullable=True),
    # Through what: 'api', 'page', 'cli' or 'system'.
    Column("via", String(8), nullable=False),
    Column("action", String(40), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("before", JSON(), nullable=True),
    Column("after", JSON(), nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
    Index("ix_audit_log_at", "at"),
)
