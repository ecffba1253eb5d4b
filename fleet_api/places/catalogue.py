"""The places shipped with the package (``data/*.json``), as plain frozen data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
# A municipality-level place is what a school is in; the others are regions.
MUNICIPALITY_KINDS = frozenset({"municipality", "state_city"})
REGION_KINDS = frozenset({"planning_region", "statistical_region", "county"})
KINDS = MUNICIPALITY_KINDS | REGION_KINDS


class PlaceDataError(ValueError):
    """A places file that cannot be used; the message names the file, place and field."""


@dataclass(frozen=True, slots=True)
class Place:
    """One municipality, state city or region."""

    code: str
    country: str
    kind: str
    name: str
    name_en: str | None = None
    short_name: str | None = None
    iso_code: str | None = None
    official_code: str | None = None
    region_code: str | None = None
    statistical_region_code: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    successor_code: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def is_municipality(self) -> bool:
        """Whether a school can be in it (else it is a region)."""
        return self.kind in MUNICIPALITY_KINDS

    @property
    def label(self) -> str:
        """How reports name it: the short name of a region, else the official name."""
        return self.short_name or self.name

    def in_force(self, day: date) -> bool:
        """Whether it exists on ``day`` (``valid_to`` is its last day)."""
        started = self.valid_from is None or self.valid_from <= day
        return started and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class Dataset:
    """One country's places with where they come from and as of when."""

    country: str
    as_of: date
    compiled: date | None
    sources: tuple[Mapping[str, Any], ...]
    places: tuple[Place, ...] = field(default=())


def _day(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PlaceDataError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def place_from(raw: Mapping[str, Any], *, country: str, where: str) -> Place:
    """A Place from one JSON object of a data file."""
    code, kind, name = raw.get("code"), raw.get("kind"), raw.get("name")
    if not code or not name:
        raise PlaceDataError(f"{where}: every place needs a code and a name")
    if kind not in KINDS:
        raise PlaceDataError(f"{where} {code}: kind {kind!r} is not one of {sorted(KINDS)}")
    here = f"{where} {code}"
    return Place(
        code=str(code),
        country=country,
        kind=str(kind),
        name=str(name),
        name_en=raw.get("name_en"),
        short_name=raw.get("short_name"),
        iso_code=raw.get("iso_3166_2"),
        official_code=raw.get("atvk", raw.get("official_code")),
        region_code=raw.get("planning_region", raw.get("region")),
        statistical_region_code=raw.get("statistical_region"),
        valid_from=_day(raw.get("valid_from"), here),
        valid_to=_day(raw.get("valid_to"), here),
        successor_code=raw.get("successor"),
        aliases=tuple(raw.get("aliases") or ()),
    )


def check(dataset: Dataset, *, where: str) -> Dataset:
    """``dataset`` if its codes are unique and every reference names one of its places."""
    codes = [place.code for place in dataset.places]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise PlaceDataError(f"{where}: codes used twice: {', '.join(duplicates)}")
    known = set(codes)
    for place in dataset.places:
        for name, ref in (
            ("region", place.region_code),
            ("statistical region", place.statistical_region_code),
            ("successor", place.successor_code),
        ):
            if ref is not None and ref not in known:
                raise PlaceDataError(f"{where} {place.code}: its {name} {ref!r} is not in the file")
    return dataset


def read_dataset(path: Path) -> Dataset:
    """One country's data file (``data/LV.json`` or a file in the same form)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PlaceDataError(f"{path}: {exc}") from None
    country = raw.get("country")
    if not isinstance(country, str) or len(country) != 2 or not country.isupper():
        raise PlaceDataError(f"{path}: 'country' must be an ISO 3166-1 alpha-2 code")
    as_of = _day(raw.get("as_of"), str(path))
    if as_of is None or not raw.get("sources"):
        raise PlaceDataError(f"{path}: a places file states its sources and 'as_of' date")
    places = tuple(
        place_from(item, country=country, where=str(path)) for item in raw.get("places", [])
    )
    return check(
        Dataset(
            country=country,
            as_of=as_of,
            compiled=_day(raw.get("compiled"), str(path)),
            sources=tuple(raw["sources"]),
            places=places,
        ),
        where=str(path),
    )


def shipped_datasets(directory: Path = DATA) -> list[Dataset]:
    """Every country shipped with the package, by country code."""
    return [read_dataset(path) for path in sorted(directory.glob("*.json"))]


def by_code(places: Iterable[Place]) -> dict[str, Place]:
    """Places keyed by code."""
    return {place.code: place for place in places}
