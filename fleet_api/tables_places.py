"""Canonical places (municipalities, state cities, regions) and where their data came from.

They share :data:`fleet_api.tables.metadata` (that module imports this one). ``places``
holds every country's places, ended ones too (a school's history still maps);
``place_datasets`` one row per country: the date the data is as of, and its sources.
Schools refer to a place by ``code`` (``schools.municipality_code``/``region_code``);
the API checks the reference, as SQLite cannot add a foreign key to an existing table.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, Index, String, Table

from fleet_api.tables import UTCDateTime, metadata

places = Table(
    "places",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("country", String(2), nullable=False),
    # municipality, state_city, planning_region, statistical_region or county.
    Column("kind", String(24), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_en", String(200), nullable=True),
    Column("short_name", String(200), nullable=True),
    Column("iso_code", String(10), nullable=True),
    # ATVK in Latvia, kommunenummer in Norway; NULL while not verified.
    Column("official_code", String(20), nullable=True),
    Column("region_code", String(40), nullable=True),
    Column("statistical_region_code", String(40), nullable=True),
    Column("valid_from", Date(), nullable=True),
    Column("valid_to", Date(), nullable=True),
    Column("successor_code", String(40), nullable=True),
    Column("aliases", JSON(), nullable=False),
    Index("ix_places_country_kind", "country", "kind"),
)

place_datasets = Table(
    "place_datasets",
    metadata,
    Column("country", String(2), primary_key=True),
    Column("as_of", Date(), nullable=False),
    Column("compiled", Date(), nullable=True),
    Column("sources", JSON(), nullable=False),
    Column("imported_at", UTCDateTime(), nullable=False),
    Column("imported_from", String(500), nullable=False),
)
