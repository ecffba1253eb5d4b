"""The resend requests the fleet makes of exhibits (:mod:`fleet_api.resend`).

It shares :data:`fleet_api.tables.metadata` (that module imports this one), so the
migrations and the tests see one schema.

A request is recorded when it is made: by a technician (``POST /exhibits/{id}/resend``,
``fleet-api resend``) or by ``fleet-api restore`` for every exhibit, with the seq from
which the fleet lacks records. ``sent_at`` is set once the broker acknowledged the
retained ``Resend``; the API publishes at once, the CLI leaves it to the running
service, which sends what is still unsent as soon as it is connected.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table

from fleet_api.tables import UTCDateTime, metadata

resend_requests = Table(
    "resend_requests",
    metadata,
    Column("command_id", String(64), primary_key=True),
    Column("exhibit_id", String(64), ForeignKey("exhibits.id", ondelete="CASCADE"), nullable=False),
    Column("from_seq", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),  # technician | restore
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Index("ix_resend_requests_exhibit_id_requested_at", "exhibit_id", "requested_at"),
    Index("ix_resend_requests_sent_at", "sent_at"),
)
