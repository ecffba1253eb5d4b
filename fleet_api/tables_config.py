"""Configurations the fleet pushed to exhibits (part of :data:`fleet_api.tables.metadata`).

``exhibit_configs`` keeps every version of each exhibit's configuration the broker
acknowledged (the document, its hash, who sent it, whether forced) and what the exhibit
reported of it (``applied``, ``waiting`` until a visit ends, ``refused`` with its reason).
Versions count up from 1 per exhibit; the newest is the one the fleet expects.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from fleet_api.tables import UTCDateTime, metadata

exhibit_configs = Table(
    "exhibit_configs",
    metadata,
    Column("exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("config", JSON(), nullable=False),
    Column("config_hash", String(16), nullable=False),
    Column("force", Boolean(create_constraint=False), nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("issued_by", String(200), nullable=False),
    # The exhibit's latest report on this version (none yet: NULL).
    Column("outcome", String(16), nullable=True),
    Column("reason", Text, nullable=True),
    Column("outcome_at", UTCDateTime(), nullable=True),
    Column("reported_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("exhibit_id", "version"),
)
