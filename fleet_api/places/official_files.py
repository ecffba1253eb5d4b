"""The Central Statistical Bureau's ATVK file, applied to Latvia's places.

CSP publishes the classification of administrative territories with their statistical
(NUTS 3) regions as ``atu_nuts_codes.csv`` (data.gov.lv dataset "atvk"), one row per
unit: ``Level,Code,Code_version,Name,Code_parent,Validity_period_begin,
Validity_period_end,Predecessors,Successors``. Level 1 rows are the statistical regions,
level 3 rows the state cities and municipalities (their ``Code`` is the ATVK code, their
``Code_parent`` the region). :func:`apply_atvk` fills each known place's ATVK code,
statistical region and validity from it, adds units the data does not know yet, and
says every change it made.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from fleet_api.places.catalogue import Dataset, Place, PlaceDataError, check
from fleet_api.places.matching import municipality_match, normalise

ATVK_HEADER = ("Level", "Code", "Code_version", "Name", "Code_parent")
_ATVK_CODE = re.compile(r"^\d{7}$")
_NUTS3 = re.compile(r"^LV0[0-9A-Z]{2}$")
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y")


@dataclass(frozen=True, slots=True)
class AtvkRow:
    """One row of the official file."""

    level: str
    code: str
    name: str
    parent: str | None
    begins: date | None
    ends: date | None
    successors: tuple[str, ...]


def _date(value: str, line: int) -> date | None:
    text = value.strip()
    if not text:
        return None
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    raise PlaceDataError(f"line {line}: {value!r} is not a date")


def is_atvk_file(path: Path) -> bool:
    """Whether ``path`` starts with the official file's header."""
    try:
        first = path.read_text(encoding="utf-8-sig").splitlines()[:1]
    except (OSError, UnicodeDecodeError):
        return False
    return bool(first) and first[0].replace(";", ",").startswith(",".join(ATVK_HEADER))


def read_atvk(text: str) -> list[AtvkRow]:
    """The rows of the official CSV (comma or semicolon separated, UTF-8)."""
    lines = text.lstrip("\ufeff")
    header = lines.split("\n", 1)[0]
    dialect = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(lines), delimiter=dialect)
    missing = [name for name in ATVK_HEADER if name not in (reader.fieldnames or [])]
    if missing:
        raise PlaceDataError(f"not the ATVK file: the header lacks {', '.join(missing)}")
    rows = []
    for line, record in enumerate(reader, start=2):
        code, name = (record.get("Code") or "").strip(), (record.get("Name") or "").strip()
        if not code or not name:
            raise PlaceDataError(f"line {line}: a row needs a Code and a Name")
        successors = (record.get("Successors") or "").replace(";", ",").split(",")
        rows.append(
            AtvkRow(
                level=(record.get("Level") or "").strip(),
                code=code,
                name=name,
                parent=(record.get("Code_parent") or "").strip() or None,
                begins=_date(record.get("Validity_period_begin") or "", line),
                ends=_date(record.get("Validity_period_end") or "", line),
                successors=tuple(s.strip() for s in successors if s.strip()),
            )
        )
    return rows


def _new_place(row: AtvkRow) -> Place:
    kind = "municipality" if normalise(row.name).endswith(" novads") else "state_city"
    return Place(
        code=f"LV:ATVK:{row.code}",
        country="LV",
        kind=kind,
        name=row.name,
        official_code=row.code,
        statistical_region_code=row.parent if row.parent and _NUTS3.match(row.parent) else None,
        valid_from=row.begins,
        valid_to=row.ends,
    )


def apply_atvk(dataset: Dataset, rows: list[AtvkRow], *, today: date) -> tuple[Dataset, list[str]]:
    """Latvia's ``dataset`` updated from the official rows, and what changed (one line each)."""
    if dataset.country != "LV":
        raise PlaceDataError("the ATVK file describes Latvia: import it into LV")
    places = {place.code: place for place in dataset.places}
    regions = {p.code for p in places.values() if p.kind == "statistical_region"}
    units = [row for row in rows if row.level == "3" and _ATVK_CODE.match(row.code)]
    by_atvk: dict[str, str] = {}
    changes: list[str] = []
    for row in units:
        found = municipality_match(row.name, places.values())
        current = found.place
        if current is None:
            if row.ends is not None and row.ends < today:
                continue  # a unit that ended before our data begins: not ours to keep
            new = _new_place(row)
            places[new.code] = new
            by_atvk[row.code] = new.code
            changes.append(f"added {row.name} ({new.code}): not in the shipped data")
            continue
        by_atvk[row.code] = current.code
        parent = row.parent if row.parent in regions else current.statistical_region_code
        updated = replace(
            current,
            official_code=row.code,
            statistical_region_code=parent,
            valid_from=row.begins or current.valid_from,
            valid_to=row.ends,
        )
        for field, label in (
            ("official_code", "ATVK code"),
            ("statistical_region_code", "statistical region"),
            ("valid_from", "valid from"),
            ("valid_to", "valid to"),
        ):
            before, after = getattr(current, field), getattr(updated, field)
            if before != after:
                changes.append(f"{current.name} ({current.code}): {label} {before} -> {after}")
        places[current.code] = updated
    for row in units:
        code = by_atvk.get(row.code)
        heirs = [by_atvk[s] for s in row.successors if s in by_atvk and by_atvk[s] != code]
        if code is not None and heirs and places[code].successor_code != heirs[0]:
            changes.append(f"{places[code].name} ({code}): successor -> {heirs[0]}")
            places[code] = replace(places[code], successor_code=heirs[0])
    official = {row.code for row in units}
    for place in places.values():
        if place.is_municipality and place.official_code not in official:
            changes.append(f"{place.name} ({place.code}) is not in the official file: kept")
    source = {
        "what": {
            "en": "ATVK codes, statistical regions and validity of municipalities and state cities",
            "lv": "valstspilsētu un novadu ATVK kodi, statistiskie reģioni un spēkā esamība",
        },
        "source": "CSP atu_nuts_codes.csv (data.gov.lv dataset 'atvk')",
        "imported": today.isoformat(),
    }
    updated_set = replace(
        dataset, as_of=today, sources=(*dataset.sources, source), places=tuple(places.values())
    )
    return check(updated_set, where="ATVK import"), changes
