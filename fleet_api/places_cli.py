"""``fleet-api places``: import a country's places, list them, list unmapped schools.

``import FILE`` takes the Central Statistical Bureau's ``atu_nuts_codes.csv`` (Latvia's
ATVK codes, statistical regions and validity, applied to the stored Latvian places) or a
data file in the form of ``fleet_api/places/data/LV.json`` (any country, e.g. the
Norwegian partners' municipalities). It prints every change, then maps the schools whose
place is still free text and lists those that stay unmapped. ``--dry-run`` changes
nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection

from fleet_api.places.catalogue import Dataset, PlaceDataError, by_code, read_dataset
from fleet_api.places.official_files import apply_atvk, is_atvk_file, read_atvk
from fleet_api.store.audit import Actor, record_change
from fleet_api.store.places import (
    UnmappedSchool,
    map_schools,
    read_datasets,
    read_places,
    write_dataset,
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``places`` command and its actions."""
    places = commands.add_parser("places", help="canonical places: import, list, unmapped")
    actions = places.add_subparsers(dest="action", required=True)
    load = actions.add_parser(
        "import", help="update places from CSP's atu_nuts_codes.csv or a places JSON file"
    )
    load.add_argument("file", type=Path)
    load.add_argument("--dry-run", action="store_true", help="print the changes, store nothing")
    listing = actions.add_parser("list", help="list the stored places")
    listing.add_argument("--country", help="ISO 3166-1 alpha-2, e.g. LV")
    actions.add_parser("unmapped", help="schools whose municipality is still free text")


def run(connection: Connection, args: argparse.Namespace, actor: Actor) -> int:
    """Carry out ``fleet-api places ACTION``; the exit status."""
    if args.action == "list":
        for place in read_places(connection, country=args.country):
            official = place.official_code or "-"
            print(
                f"{place.code}\t{place.kind}\t{place.name}\t{official}\t{place.region_code or '-'}"
            )
        for info in read_datasets(connection):
            print(
                f"# {info.country}: as of {info.as_of}, from {info.imported_from}", file=sys.stderr
            )
        return 0
    if args.action == "unmapped":
        _print_unmapped(map_schools(connection, actor=actor, now=_now(), write=False))
        return 0
    return _import(connection, args.file, dry_run=args.dry_run, actor=actor)


def _now() -> datetime:
    return datetime.now(UTC)


def _print_unmapped(left: list[UnmappedSchool]) -> None:
    for school in left:
        print(f"school {school.school_id} ({school.name}): {'; '.join(school.problems)}")
    print(f"{len(left)} school(s) not mapped to a place", file=sys.stderr)


def _updated(connection: Connection, path: Path) -> tuple[Dataset, list[str]]:
    if is_atvk_file(path):
        stored = read_places(connection, country="LV")
        info = {i.country: i for i in read_datasets(connection)}.get("LV")
        if info is None or not stored:
            raise PlaceDataError("no Latvian places are stored yet: run `fleet-api migrate`")
        current = Dataset("LV", info.as_of, info.compiled, tuple(info.sources), tuple(stored))
        return apply_atvk(
            current, read_atvk(path.read_text(encoding="utf-8-sig")), today=_now().date()
        )
    dataset = read_dataset(path)
    old = by_code(read_places(connection, country=dataset.country))
    changes = [
        f"{'added' if p.code not in old else 'changed'} {p.name} ({p.code})"
        for p in dataset.places
        if old.get(p.code) != p
    ]
    return dataset, changes


def _import(connection: Connection, path: Path, *, dry_run: bool, actor: Actor) -> int:
    try:
        dataset, changes = _updated(connection, path)
    except (OSError, PlaceDataError) as exc:
        print(f"fleet-api places import: {exc}", file=sys.stderr)
        return 2
    for line in changes:
        print(line)
    if dry_run:
        print(f"{len(changes)} change(s); nothing stored (--dry-run)", file=sys.stderr)
        return 0
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    now = _now()
    added, changed = write_dataset(
        connection, dataset, imported_from=f"{path.name} (sha256 {digest}…)", now=now
    )
    record_change(
        connection,
        actor=actor,
        action="places.import",
        entity="places",
        entity_id=dataset.country,
        after={"file": path.name, "sha256": digest, "added": added, "changed": changed},
        at=now,
    )
    _print_unmapped(map_schools(connection, actor=actor, now=now))
    print(f"{dataset.country}: {added} place(s) added, {changed} changed", file=sys.stderr)
    return 0
