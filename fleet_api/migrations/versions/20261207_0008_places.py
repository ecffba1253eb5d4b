"""Canonical places: ``places`` and ``place_datasets``, seeded from the shipped data
(``fleet_api/places/data/*.json``), and ``schools.municipality_code``/``region_code``.

Every school's free-text municipality and region are mapped to places where exactly one
fits (``fleet_api.places.matching``: "Rezekne" is Rēzekne, "Vidzemes reģions" is the
Vidzeme planning region; a municipality's own region wins over a contradicting text).
What cannot be mapped keeps its text, gets no code, and is logged here and listed by
``fleet-api migrate`` and ``fleet-api places unmapped``; nothing is dropped or guessed.
Each mapping is an audit entry (``school.place_mapped``, by "migration 0008").

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)
log = logging.getLogger("fleet_api.migrations")


def upgrade() -> None:
    """Create the places tables, seed them, add the schools' codes and map the schools."""
    op.create_table(
        "places",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=True),
        sa.Column("short_name", sa.String(200), nullable=True),
        sa.Column("iso_code", sa.String(10), nullable=True),
        sa.Column("official_code", sa.String(20), nullable=True),
        sa.Column("region_code", sa.String(40), nullable=True),
        sa.Column("statistical_region_code", sa.String(40), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("successor_code", sa.String(40), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_places"),
    )
    op.create_index("ix_places_country_kind", "places", ["country", "kind"])
    op.create_table(
        "place_datasets",
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("compiled", sa.Date(), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("imported_at", UTC_TIME, nullable=False),
        sa.Column("imported_from", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("country", name="pk_place_datasets"),
    )
    op.add_column("schools", sa.Column("municipality_code", sa.String(40), nullable=True))
    op.add_column("schools", sa.Column("region_code", sa.String(40), nullable=True))
    op.create_index("ix_schools_municipality_code", "schools", ["municipality_code"])

    from fleet_api.places.catalogue import shipped_datasets
    from fleet_api.store.audit import Actor
    from fleet_api.store.places import map_schools, write_dataset

    connection = op.get_bind()
    now = datetime.now(UTC)
    for dataset in shipped_datasets():
        write_dataset(connection, dataset, imported_from="shipped data (migration 0008)", now=now)
    actor = Actor(name="migration 0008", via="system")
    for school in map_schools(connection, actor=actor, now=now):
        log.warning(
            "school %s (%s): place not mapped, text kept: %s",
            school.school_id,
            school.name,
            "; ".join(school.problems),
        )


def downgrade() -> None:
    """Drop the schools' codes and the places (the free text was never changed)."""
    op.drop_index("ix_schools_municipality_code", table_name="schools")
    op.drop_column("schools", "region_code")
    op.drop_column("schools", "municipality_code")
    op.drop_table("place_datasets")
    op.drop_index("ix_places_country_kind", table_name="places")
    op.drop_table("places")
