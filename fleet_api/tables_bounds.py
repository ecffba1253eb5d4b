"""The bounds of records whose boot never had a synced clock, and staff's placements.

``record_bounds`` has one row per stored record (count or session: one seq stream) of
``time_basis`` ``unsynced``, written by :mod:`fleet_api.store.settle` whenever a later
fact may move its bounds: ``earliest``/``latest`` (NULL: not bounded that way),
whether it is ``unplaced`` (the bounds allow more than one place and no tag decides),
and, if staff chose one of its candidate visits, which, who and when
(``POST /unplaced/assign``; the audit log has the history). A record re-based later is
trusted: its row is deleted. ``unsynced_boots`` keeps, per never-synced boot, what its
records said of its offset, so that a batch's new records are settled without reading
the boot's earlier ones. Joins :data:`fleet_api.tables.metadata` when imported.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
)

from fleet_api.tables import UTCDateTime, metadata

record_bounds = Table(
    "record_bounds",
    metadata,
    Column("exhibit_id", String(64), ForeignKey("exhibits.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("earliest", UTCDateTime(), nullable=True),
    Column("latest", UTCDateTime(), nullable=True),
    Column("unplaced", Boolean(create_constraint=False), nullable=False),
    Column("assigned_visit_id", BigInteger, nullable=True),
    Column("assigned_by", String(200), nullable=True),
    Column("assigned_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("exhibit_id", "seq"),
    Index("ix_record_bounds_unplaced_exhibit_id", "unplaced", "exhibit_id"),
    sqlite_with_rowid=False,
)

unsynced_boots = Table(
    "unsynced_boots",
    metadata,
    # What the records of one never-synced boot said of its offset so far, as bounds on
    # "the true time at monotonic 0" (NULL: not bounded that way).
    Column("exhibit_id", String(64), ForeignKey("exhibits.id"), nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("low", UTCDateTime(), nullable=True),
    Column("high", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("exhibit_id", "boot_id"),
)
