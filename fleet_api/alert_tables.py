"""Tables of alert changes and their notifications (part of :data:`fleet_api.tables.metadata`).

``alert_states`` keeps each alert whose condition holds or that was raised and not yet
resolved (:mod:`fleet_api.alert_changes`); ``alert_events`` every raise and resolve with
the JSON body that notifies it; ``notification_deliveries`` one row per event and
destination, the durable outbox the dispatcher works through
(:mod:`fleet_api.notifications`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fleet_api.tables import BigId, UTCDateTime, metadata

alert_states = Table(
    "alert_states",
    metadata,
    # Alerts whose condition holds, or that were raised and not yet resolved
    # (fleet_api.alert_changes): kept so a restart neither repeats nor forgets a change.
    Column("alert_id", String(200), primary_key=True),
    Column("code", String(32), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("exhibit_id", String(64), nullable=True),
    Column("visit_id", BigInteger, nullable=True),
    Column("active", Boolean(create_constraint=False), nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    Column("raised", Boolean(create_constraint=False), nullable=False),
    Column("episode_id", String(32), nullable=True),
    Column("raised_at", UTCDateTime(), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
)

alert_events = Table(
    "alert_events",
    metadata,
    # Every alert raised or resolved, with the JSON body that notifies it (the same bytes
    # on every attempt and to every destination).
    Column("event_id", String(48), primary_key=True),
    Column("alert_id", String(200), nullable=False),
    Column("status", String(8), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_alert_events_at", "at"),
    Index("ix_alert_events_alert_id_at", "alert_id", "at"),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    # One row per event and destination: the durable outbox of notifications. A row is
    # claimed with a lease (lease_until) so that one API process sends it at a time, and
    # delivered at least once: it is marked only after the receiver accepted it.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "event_id",
        String(48),
        ForeignKey("alert_events.event_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("alert_id", String(200), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("destination", String(254), nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint(
        "event_id", "channel", "destination", name="uq_notification_deliveries_target"
    ),
    CheckConstraint("state IN ('pending', 'delivered', 'failed', 'dropped')", name="state"),
    Index("ix_notification_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
)
