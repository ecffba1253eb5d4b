"""Free text to a canonical place: exactly one match, or none and the reason.

Text and place names are compared after :func:`normalise` (case, diacritics, "nov.",
spacing), against each place's code, official and English names, ISO and official codes
and aliases. Nothing is guessed: a text that fits no place, or more than one, maps to
none and says so ("Ventspils" is the state city; "Ventspils novads" the municipality).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from fleet_api.places.catalogue import Place

# The regions reports group by: Latvia's planning regions, a county elsewhere.
REPORT_REGION_KINDS = frozenset({"planning_region", "county"})
_ABBREVIATIONS = ((re.compile(r"\bnov\b\.?"), "novads"), (re.compile(r"\bnovada\b"), "novads"))
_NOISE = re.compile(r"[\s.,;:()\"'`]+")


def normalise(text: str) -> str:
    """``text`` folded for comparison: no case, no diacritics, one space between words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    for pattern, replacement in _ABBREVIATIONS:
        plain = pattern.sub(replacement, plain)
    return _NOISE.sub(" ", plain).strip()


_ALPHABET = "aābcčdeēfgģhiījkķlļmnņoprsštuūvzž"
_ORDER = {letter: n for n, letter in enumerate(_ALPHABET)}


def collation_key(text: str) -> tuple[int, ...]:
    """Alphabetical order as Latvian has it (Ā after A, Ķ after K, Ž last); other
    characters after the Latvian letters, by code point."""
    return tuple(_ORDER.get(ch, len(_ORDER) + ord(ch)) for ch in text.casefold())


def _keys(place: Place) -> set[str]:
    names = (place.code, place.name, place.name_en, place.short_name, place.iso_code)
    found = {normalise(n) for n in (*names, place.official_code, *place.aliases) if n}
    return found - {""}


@dataclass(frozen=True, slots=True)
class Match:
    """What a text maps to: ``place``, or None with ``reason`` (and the candidates)."""

    text: str
    place: Place | None
    reason: str | None = None
    candidates: tuple[str, ...] = ()


def match(text: str | None, places: Iterable[Place]) -> Match:
    """The one place among ``places`` that ``text`` names, or none and why."""
    wanted = normalise(text or "")
    if not wanted:
        return Match(text or "", None, "empty")
    hits = [place for place in places if wanted in _keys(place)]
    if len(hits) == 1:
        return Match(text or "", hits[0])
    if hits:
        return Match(text or "", None, "ambiguous", tuple(sorted(p.code for p in hits)))
    return Match(text or "", None, "unknown")


def municipality_match(text: str | None, places: Iterable[Place]) -> Match:
    """``text`` as a municipality or state city (ended ones too: history still maps)."""
    return match(text, [p for p in places if p.is_municipality])


def region_match(text: str | None, places: Iterable[Place]) -> Match:
    """``text`` as a region reports group by (a planning region in Latvia)."""
    return match(text, [p for p in places if p.kind in REPORT_REGION_KINDS])


@dataclass(frozen=True, slots=True)
class SchoolPlace:
    """Where a school's free-text municipality and region put it, and what did not fit."""

    municipality_code: str | None
    region_code: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def mapped(self) -> bool:
        """Whether the municipality (and so the region) is canonical."""
        return self.municipality_code is not None


def _why(kind: str, found: Match) -> str:
    if found.reason == "empty":
        return f"no {kind} given"
    if found.reason == "ambiguous":
        return f"{kind} {found.text!r} fits several places ({', '.join(found.candidates)})"
    return f"{kind} {found.text!r} is not a known place"


def map_school(municipality: str | None, region: str | None, places: list[Place]) -> SchoolPlace:
    """Map a school's free text; the municipality's own region wins over the text's."""
    town, area = municipality_match(municipality, places), region_match(region, places)
    if town.place is not None:
        problems = []
        own = town.place.region_code
        if region and area.place is not None and area.place.code != own:
            problems.append(
                f"region {region!r} is not the region of {town.place.name} ({own}): "
                "the municipality's region is used"
            )
        elif region and area.place is None:
            problems.append(_why("region", area) + f"; {town.place.name} gives {own}")
        return SchoolPlace(town.place.code, own, problems)
    problems = [_why("municipality", town)]
    if area.place is None:
        problems.append(_why("region", area))
    return SchoolPlace(None, area.place.code if area.place else None, problems)
