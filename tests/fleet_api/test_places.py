"""Places: free text mapped or flagged (never guessed), the API's validation, the
migration of free-text schools, and ``fleet-api places import`` of the official file
and of another country's data."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from fleet_api.cli import main
from fleet_api.db import downgrade, make_engine, upgrade
from fleet_api.places.catalogue import read_dataset, shipped_datasets
from fleet_api.places.matching import map_school, municipality_match, normalise
from fleet_api.store.places import read_places
from fleet_api.tables import schools
from fleet_api.tables_domain import audit_log

LV = shipped_datasets()[0]
PLACES = list(LV.places)
EXAMPLE_NO = Path(__file__).parent / "data" / "NO-example.json"


@pytest.mark.parametrize(
    ("municipality", "region", "code", "region_code"),
    [
        ("Cēsu novads", "Vidzeme", "LV-022", "LV:PR:VIDZEME"),
        ("Valmieras novads", "Vidzemes reģions", "LV-113", "LV:PR:VIDZEME"),
        ("Rēzeknes novads", "Latgale", "LV-077", "LV:PR:LATGALE"),
        ("Rezekne", "Latgales plānošanas reģions", "LV-REZ", "LV:PR:LATGALE"),
        ("REZEKNES NOV.", "", "LV-077", "LV:PR:LATGALE"),
        ("Ventspils", "Kurzeme", "LV-VEN", "LV:PR:KURZEME"),
        ("Ventspils novads", "Kurzeme region", "LV-106", "LV:PR:KURZEME"),
        ("Varakļānu novads", "Vidzeme", "LV-102", "LV:PR:VIDZEME"),  # ended: history maps
    ],
)
def test_free_text_maps_to_exactly_one_place(
    municipality: str, region: str, code: str, region_code: str
) -> None:
    found = map_school(municipality, region, PLACES)
    assert (found.municipality_code, found.region_code, found.problems) == (code, region_code, [])


def test_what_fits_no_place_or_contradicts_is_flagged_not_guessed() -> None:
    unknown = map_school("Pierīga", "Pierīga", PLACES)
    assert (unknown.municipality_code, unknown.region_code) == (None, None)
    assert unknown.problems == [
        "municipality 'Pierīga' is not a known place",
        "region 'Pierīga' is not a known place",
    ]
    region_only = map_school("Rēzeknes pagasts", "Vidzemes reģions", PLACES)
    assert (region_only.municipality_code, region_only.region_code) == (None, "LV:PR:VIDZEME")
    contradiction = map_school("Rēzeknes novads", "Vidzeme", PLACES)
    assert contradiction.municipality_code == "LV-077"
    assert contradiction.region_code == "LV:PR:LATGALE"  # the municipality's, not the text's
    assert "is not the region of Rēzeknes novads" in contradiction.problems[0]


@given(st.sampled_from([p for p in PLACES if p.is_municipality]), st.sampled_from(["", " ", "."]))
def test_every_official_name_maps_back_to_its_place_however_it_is_cased(
    place: object, tail: str
) -> None:
    assert hasattr(place, "name")
    for text in (place.name, place.name.upper(), place.name.casefold() + tail, place.code):  # type: ignore[attr-defined]
        assert municipality_match(text, PLACES).place == place


@given(st.text(max_size=30))
def test_any_text_maps_to_at_most_one_place_and_says_why_not(text: str) -> None:
    found = municipality_match(text, PLACES)
    assert (found.place is None) == (found.reason is not None)
    if found.place is not None:
        assert normalise(text) != ""


async def test_the_api_takes_a_code_or_an_official_name_and_refuses_anything_else(
    client: httpx.AsyncClient,
) -> None:
    by_code = await client.post("/schools", json={"name": "A", "municipality": "LV-058"})
    assert by_code.status_code == 201, by_code.text
    assert (by_code.json()["municipality"], by_code.json()["region"]) == (
        "Ludzas novads",
        "Latgale",
    )
    by_name = await client.post(
        "/schools", json={"name": "B", "municipality": "Kuldīgas novads", "region": "Kurzeme"}
    )
    assert by_name.json()["statistical_region_code"] == "LV00B"
    cases = {
        "Vidzeme": "is not a known place",
        "LV-102": "no longer in force since 2025-06-30: it is now part of Madonas novads (LV-059)",
    }
    for text, detail in cases.items():
        refused = await client.post("/schools", json={"name": "C", "municipality": text})
        assert refused.status_code == 422
        assert refused.json()["code"] == "invalid_place"
        assert detail in refused.json()["detail"]
    wrong_region = await client.post(
        "/schools", json={"name": "D", "municipality": "Ludzas novads", "region": "Kurzeme"}
    )
    assert (
        "is not the region of Ludzas novads, which is in Latgale" in wrong_region.json()["detail"]
    )
    school_id = by_code.json()["id"]
    moved = await client.patch(f"/schools/{school_id}", json={"municipality": "Preiļu novads"})
    assert moved.json()["municipality_code"] == "LV-073"
    audit = (await client.get("/audit", params={"entity": "school", "entity_id": school_id})).json()
    (update,) = [entry for entry in audit if entry["action"] == "school.update"]
    assert update["before"]["municipality_code"] == "LV-058"
    assert update["after"]["municipality_code"] == "LV-073"


async def test_places_are_listed_with_their_sources(client: httpx.AsyncClient) -> None:
    towns = (await client.get("/places", params={"kind": "municipality", "in_force": True})).json()
    assert len(towns) == 35
    assert "Varakļānu novads" not in {t["name"] for t in towns}
    (datasets,) = (await client.get("/places/datasets")).json()
    assert datasets["country"] == "LV"
    assert len(datasets["sources"]) >= 4
    place = (await client.get("/places/LV-102")).json()
    assert (place["in_force"], place["successor_code"]) == (False, "LV-059")
    assert (await client.get("/places/LV-999")).status_code == 404


LEGACY = [
    ("Cēsu Valsts ģimnāzija", "Cēsu novads", "Vidzeme"),
    ("Valmieras skola", "Valmieras novads", "Vidzemes reģions"),
    ("Rēzeknes pamatskola", "Rēzeknes novads", "Latgale"),
    ("Rēzeknes 5. vidusskola", "Rezekne", "Latgale"),
    ("Ādažu skola", "Pierīga", "Pierīga"),
    ("Skola bez vietas", "Kaut kur", "Vidzeme"),
]


@pytest.fixture
def legacy(db_url: str) -> Iterator[Engine]:
    """A database at revision 0007 (before places) with free-text schools."""
    engine = make_engine(db_url)
    downgrade(engine, "base")
    upgrade(engine, "0007")
    table = sa.table("schools", *(sa.column(c) for c in ("id", "name", "municipality", "region")))
    with engine.begin() as connection:
        connection.execute(
            table.insert(),
            [
                {"id": n, "name": name, "municipality": town, "region": region}
                for n, (name, town, region) in enumerate(LEGACY, start=1)
            ],
        )
    yield engine
    engine.dispose()


def test_the_migration_maps_free_text_and_keeps_and_flags_what_it_cannot(
    legacy: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(legacy)
    with legacy.connect() as connection:
        rows = connection.execute(select(schools).order_by(schools.c.id)).mappings().all()
        mapped = connection.execute(
            select(audit_log.c.entity_id).where(audit_log.c.action == "school.place_mapped")
        ).scalars()
        assert sorted(mapped, key=int) == ["1", "2", "3", "4"]
    assert [(r["municipality_code"], r["region_code"]) for r in rows] == [
        ("LV-022", "LV:PR:VIDZEME"),
        ("LV-113", "LV:PR:VIDZEME"),
        ("LV-077", "LV:PR:LATGALE"),
        ("LV-REZ", "LV:PR:LATGALE"),
        (None, None),
        (None, "LV:PR:VIDZEME"),
    ]
    assert [r["municipality"] for r in rows] == [town for _, town, _ in LEGACY]  # text kept
    warned = [r.getMessage() for r in caplog.records if r.name == "fleet_api.migrations"]
    assert len(warned) == 2
    assert "'Pierīga' is not a known place" in warned[0]


async def test_reports_group_the_two_spellings_of_a_region_as_one(
    legacy: Engine, db_url: str
) -> None:
    from fleet_api.main import create_app
    from fleet_api.settings import Settings
    from tests.fleet_api.conftest import ADMIN_HEADERS, ADMIN_TOKEN

    upgrade(legacy)
    app = create_app(
        Settings(database_url=db_url, mqtt_url=None, bootstrap_admin_token=ADMIN_TOKEN)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=ADMIN_HEADERS
        ) as client:
            await client.post("/exhibits", json={"id": "ex-1", "name": "Gravity well"})
            for school_id in range(1, 7):
                visit = {
                    "school_id": school_id,
                    "starts_at": f"2026-05-0{school_id}T08:00:00Z",
                    "ends_at": f"2026-05-0{school_id}T12:00:00Z",
                    "exhibit_ids": ["ex-1"],
                    "pupils": 10,
                }
                created = await client.post("/visits", json=visit)
                assert created.status_code == 201, created.text
            report = (await client.get("/reports/usage", params={"group_by": "region"})).json()
            listed = (await client.get("/schools")).json()
    rows = {row["key"]: (row["label"], row["field_trips_held"]) for row in report["rows"]}
    assert rows == {
        "LV:PR:VIDZEME": ("Vidzeme", 3),
        "LV:PR:LATGALE": ("Latgale", 2),
        "unmapped:Pierīga": ("Pierīga", 1),
    }
    assert [s["place_mapped"] for s in listed] == [True, True, True, True, False, False]


def _atvk_file(path: Path, *, drop: str | None = None) -> Path:
    """A file in the official file's form, with made-up codes (99xxxxx: not ATVK)."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = "Level,Code,Code_version,Name,Code_parent,Validity_period_begin,"
    writer.writerow((header + "Validity_period_end,Predecessors,Successors").split(","))
    for place in LV.places:
        if place.kind == "statistical_region":
            writer.writerow(["1", place.code, "1", place.short_name, "", "2024-01-01", "", "", ""])
    codes = {p.code: f"99{n:05d}" for n, p in enumerate(LV.places) if p.is_municipality}
    for place in LV.places:
        if not place.is_municipality or place.name == drop:
            continue
        ends = "2025-06-30" if place.valid_to else ""
        heir = codes[place.successor_code] if place.successor_code else ""
        row = ["3", codes[place.code], "1", place.name, place.statistical_region_code]
        writer.writerow([*row, "01.07.2021", ends, "", heir])
    writer.writerow(["3", "9999999", "1", "Jaunais novads", "LV005", "2027-01-01", "", "", ""])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_places_import_fills_atvk_codes_from_the_official_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/fleet.db"
    for name in [n for n in os.environ if n.startswith("FLEET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FLEET_DATABASE_URL", url)
    assert main(["migrate"]) == 0
    official = _atvk_file(tmp_path / "atu_nuts_codes.csv", drop="Talsu novads")
    assert main(["places", "import", str(official), "--dry-run"]) == 0
    dry = capsys.readouterr()
    assert "Rīga (LV-RIX): ATVK code None -> 99" in dry.out
    assert "nothing stored" in dry.err
    assert main(["places", "import", str(official)]) == 0
    said = capsys.readouterr()
    assert "added Jaunais novads (LV:ATVK:9999999)" in said.out
    assert "Talsu novads (LV-097) is not in the official file: kept" in said.out
    engine = make_engine(url)
    with engine.connect() as connection:
        known = {p.code: p for p in read_places(connection)}
        entry = connection.execute(
            select(audit_log.c.after).where(audit_log.c.action == "places.import")
        ).scalar_one()
    engine.dispose()
    assert known["LV-RIX"].official_code is not None
    assert known["LV-RIX"].official_code.startswith("99")
    assert known["LV-102"].valid_to == date(2025, 6, 30)
    assert known["LV-097"].official_code is None  # not in the file: left alone
    assert entry["file"] == "atu_nuts_codes.csv"


def test_another_country_is_added_as_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("FLEET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FLEET_DATABASE_URL", f"sqlite:///{tmp_path}/fleet.db")
    assert main(["migrate"]) == 0
    assert read_dataset(EXAMPLE_NO).country == "NO"
    assert main(["places", "import", str(EXAMPLE_NO)]) == 0
    assert "added Tromsø (NO:5501)" in capsys.readouterr().out
    assert main(["places", "list", "--country", "NO"]) == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert ["NO:5528", "municipality", "Balsfjord", "5528", "NO-55"] in listed
    broken = tmp_path / "broken.json"
    broken.write_text('{"country": "NO", "places": []}', encoding="utf-8")
    assert main(["places", "import", str(broken)]) == 2
    assert "states its sources" in capsys.readouterr().err


def test_places_are_listed_in_latvian_alphabetical_order() -> None:
    from fleet_api.places.matching import collation_key

    names = ["Ķekavas novads", "Ādažu novads", "Kuldīgas novads", "Augšdaugavas novads", "Rīga"]
    assert sorted(names, key=collation_key) == [
        "Augšdaugavas novads",
        "Ādažu novads",
        "Kuldīgas novads",
        "Ķekavas novads",
        "Rīga",
    ]
