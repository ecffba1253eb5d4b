"""Place models: a municipality, state city or region, and where a country's data is from."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from fleet_api.places.catalogue import Place

PlaceKind = Literal["municipality", "state_city", "planning_region", "statistical_region", "county"]


class PlacePublic(BaseModel):
    """One canonical place."""

    code: str = Field(description="this project's key: ISO 3166-2 where one exists (LV-REZ)")
    country: str = Field(description="ISO 3166-1 alpha-2")
    kind: PlaceKind
    name: str = Field(description="the official name in the country's language")
    name_en: str | None = None
    short_name: str | None = Field(default=None, description="how reports name a region")
    iso_code: str | None = Field(default=None, description="ISO 3166-2")
    official_code: str | None = Field(
        default=None, description="the national code (Latvia: ATVK); null while not verified"
    )
    region_code: str | None = Field(default=None, description="its region (Latvia: planning)")
    statistical_region_code: str | None = Field(default=None, description="its NUTS 3 region")
    valid_from: date | None = None
    valid_to: date | None = Field(default=None, description="its last day in force")
    successor_code: str | None = Field(default=None, description="what it became part of")
    in_force: bool = Field(description="whether it is in force today (centre's time zone)")

    @classmethod
    def of(cls, place: Place, today: date) -> PlacePublic:
        """The API's view of ``place`` on ``today``."""
        return cls(
            code=place.code,
            country=place.country,
            kind=place.kind,
            name=place.name,
            name_en=place.name_en,
            short_name=place.short_name,
            iso_code=place.iso_code,
            official_code=place.official_code,
            region_code=place.region_code,
            statistical_region_code=place.statistical_region_code,
            valid_from=place.valid_from,
            valid_to=place.valid_to,
            successor_code=place.successor_code,
            in_force=place.in_force(today),
        )


class PlaceSource(BaseModel):
    """Where part of a country's data comes from (``what`` and ``note`` by language)."""

    what: dict[str, str] | str
    source: str
    note: dict[str, str] | str | None = None
    checked_by: str | None = None
    imported: str | None = None


class PlaceDataset(BaseModel):
    """A country's places: as of when, compiled when, from which sources, imported how."""

    country: str
    as_of: date
    compiled: date | None
    sources: list[PlaceSource]
    imported_at: datetime
    imported_from: str
