"""The data the query benchmark runs on, generated straight into a database.

The database is migrated to the project's schema and filled in SQL (``INSERT ...
SELECT`` over a small schedule table), so both backends get the same rows: 50 exhibits
with 3 inputs, school days (weekdays) from ``FIRST_DAY``, 3 visits a day of 5 exhibits
each, 08:00-15:00 UTC; each exhibit on a visit sends one count record per input per
minute (1,260 per exhibit-day), tagged with and attributed to its visit, seqs gap-free
per exhibit. The rollups (``usage_hourly``, ``visit_exhibit_totals``) are the
``GROUP BY`` of the same rows, and ``exhibit_seq_ranges`` one range per exhibit: what
ingestion would have stored. 530 days make 10,017,000 records. The SQLite file is cached
under ``/var/tmp/exhibit-fleet-bench/`` keyed by a hash of the schema and the size;
PostgreSQL databases are made for a run and dropped after it.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.schema import CreateTable

from fleet_api.db import make_engine, upgrade
from fleet_api.tables import (
    count_records,
    exhibit_seq_ranges,
    exhibits,
    metadata,
    schools,
    visit_exhibits,
    visits,
)

CACHE = Path("/var/tmp/exhibit-fleet-bench")  # noqa: S108 (a cache, not a secret)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "bench-admin-token-" + "x" * 32
EXHIBITS = 50
INPUTS = ("button", "motion", "dial")
VISITS_PER_DAY, EXHIBITS_PER_VISIT = 3, 5
MINUTES = 7 * 60
FIRST_DAY = date(2024, 11, 4)
DEFAULT_DAYS = 530


def records_for(days: int) -> int:
    """How many count records ``days`` school days make."""
    return days * VISITS_PER_DAY * EXHIBITS_PER_VISIT * MINUTES * len(INPUTS)


def school_days(days: int) -> list[date]:
    """The first ``days`` weekdays from FIRST_DAY."""
    found: list[date] = []
    day = FIRST_DAY
    while len(found) < days:
        if day.weekday() < 5:
            found.append(day)
        day += timedelta(days=1)
    return found


def _schema_hash(days: int) -> str:
    ddl = "".join(str(CreateTable(table)) for table in metadata.sorted_tables)
    return hashlib.sha256(f"{ddl}{days}{EXHIBITS}{INPUTS}".encode()).hexdigest()[:12]


def generate(engine: Engine, days: int, *, seed: int = 9) -> None:
    """Fill a freshly migrated database with ``days`` school days of visits and records."""
    rng = random.Random(seed)  # noqa: S311 (test data)
    exhibit_ids = [f"exhibit-{n:03d}" for n in range(1, EXHIBITS + 1)]
    regions = [f"Region {n}" for n in range(1, 6)]
    school_rows = [
        {
            "id": n,
            "name": f"School {n}",
            "region": regions[n % 5],
            "municipality": f"Municipality {n % 30}",
            "area": "rural" if n % 3 else "urban",
        }
        for n in range(1, 201)
    ]
    visit_rows: list[dict[str, Any]] = []
    member_rows: list[dict[str, Any]] = []
    schedule: list[dict[str, Any]] = []
    slots: list[dict[str, Any]] = []
    next_seq = dict.fromkeys(exhibit_ids, 1)
    for day_index, day in enumerate(school_days(days)):
        start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        slots += [
            {
                "day_index": day_index,
                "m": m,
                "at": start + timedelta(minutes=m),
                "hour": start + timedelta(hours=m // 60),
            }
            for m in range(MINUTES)
        ]
        out_today = rng.sample(exhibit_ids, VISITS_PER_DAY * EXHIBITS_PER_VISIT)
        for v in range(VISITS_PER_DAY):
            visit_id = len(visit_rows) + 1
            visit_rows.append(
                {
                    "id": visit_id,
                    "school_id": rng.randint(1, len(school_rows)),
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=MINUTES),
                    "pupils": rng.randint(15, 60),
                }
            )
            for exhibit_id in out_today[v * EXHIBITS_PER_VISIT : (v + 1) * EXHIBITS_PER_VISIT]:
                member_rows.append({"visit_id": visit_id, "exhibit_id": exhibit_id})
                schedule.append(
                    {
                        "visit_id": visit_id,
                        "exhibit_id": exhibit_id,
                        "day_index": day_index,
                        "first_seq": next_seq[exhibit_id],
                        "boot_id": f"{exhibit_id}-{day.isoformat()}",
                    }
                )
                next_seq[exhibit_id] += MINUTES * len(INPUTS)
    created = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as db:
        db.execute(
            insert(exhibits),
            [
                {"id": e, "name": e, "created_at": created, "inputs": list(INPUTS)}
                for e in exhibit_ids
            ],
        )
        db.execute(insert(schools), school_rows)
        db.execute(insert(visits), visit_rows)
        db.execute(insert(visit_exhibits), member_rows)
        db.execute(
            insert(exhibit_seq_ranges),
            [
                {"exhibit_id": e, "first_seq": 1, "last_seq": last - 1}
                for e, last in next_seq.items()
                if last > 1
            ],
        )
        _fill_records(db, schedule, slots)


def _fill_records(
    db: Connection, schedule: list[dict[str, Any]], slots: list[dict[str, Any]]
) -> None:
    """count_records and the rollups from the schedule, in SQL, secondary indexes built after."""
    from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

    from fleet_api.tables import UTCDateTime

    scratch = MetaData()
    bench_schedule = Table(
        "bench_schedule",
        scratch,
        Column("visit_id", BigInteger),
        Column("exhibit_id", String(64)),
        Column("day_index", Integer),
        Column("first_seq", BigInteger),
        Column("boot_id", String(64)),
    )
    bench_slots = Table(
        "bench_slots",
        scratch,
        Column("day_index", Integer),
        Column("m", Integer),
        Column("at", UTCDateTime()),
        Column("hour", UTCDateTime()),
    )
    bench_inputs = Table("bench_inputs", scratch, Column("i", Integer), Column("name", String(32)))
    scratch.create_all(db)
    step = time.monotonic()
    db.execute(insert(bench_schedule), schedule)
    db.execute(insert(bench_slots), slots)
    db.execute(insert(bench_inputs), [{"i": i, "name": n} for i, n in enumerate(INPUTS)])
    db.execute(text("CREATE INDEX bench_slots_day ON bench_slots (day_index, m)"))
    for index in count_records.indexes:
        db.execute(text(f"DROP INDEX {index.name}"))
    seq = "s.first_seq + sl.m * 3 + i.i"
    # A count of 0-8 per minute, 1 in 9 minutes idle: a function of seq, the same on both.
    amount = f"(({seq}) * 7919) % 9"
    source = (
        "FROM bench_schedule s JOIN bench_slots sl ON sl.day_index = s.day_index "
        "CROSS JOIN bench_inputs i"
    )
    db.execute(
        text(
            "INSERT INTO count_records (exhibit_id, seq, input, start, mono_start, seconds, "
            '"count", boot_id, clock_synced, visit_id, received_at, corrected_start, time_basis, '
            f"attributed_visit_id) SELECT s.exhibit_id, {seq}, i.name, sl.at, sl.m * 60.0 + 1, "
            f"60.0, {amount}, s.boot_id, true, s.visit_id, sl.at, sl.at, 'synced', s.visit_id "
            f"{source} ORDER BY s.exhibit_id, s.day_index, sl.m, i.i"
        )
    )
    print(f"  records {time.monotonic() - step:.1f} s", flush=True)
    db.execute(
        text(
            'INSERT INTO usage_hourly (visit_id, exhibit_id, input, hour, "count", records) '
            f"SELECT s.visit_id, s.exhibit_id, i.name, sl.hour, sum({amount}), count(*) {source} "
            "GROUP BY s.visit_id, s.exhibit_id, i.name, sl.hour"
        )
    )
    db.execute(
        text(
            "INSERT INTO visit_exhibit_totals (visit_id, exhibit_id, interactions, records, "
            'sessions) SELECT visit_id, exhibit_id, sum("count"), sum(records), 0 '
            "FROM usage_hourly GROUP BY visit_id, exhibit_id"
        )
    )
    print(f"  + rollups {time.monotonic() - step:.1f} s", flush=True)
    for index in count_records.indexes:
        index.create(db)
    print(f"  + indexes {time.monotonic() - step:.1f} s", flush=True)
    scratch.drop_all(db)


def sqlite_database(days: int, console: Any) -> tuple[str, float | None]:
    """A generated SQLite file (cached); its URL and the generation time (None if cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"queries-{_schema_hash(days)}.db"
    if path.exists():
        return f"sqlite:///{path}", None
    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    started = time.monotonic()
    engine = make_engine(f"sqlite:///{partial}")
    upgrade(engine)
    generate(engine, days)
    engine.dispose()
    raw = sqlite3.connect(partial, isolation_level=None)
    raw.execute("ANALYZE")
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    shutil.move(partial, path)
    console.print(f"generated {path}")
    return f"sqlite:///{path}", time.monotonic() - started


def new_postgres_database(prefix: str) -> str:
    """A fresh, empty PostgreSQL database named ``PREFIX_<random>``; its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def postgres_database(days: int) -> tuple[str, float]:
    """A fresh generated PostgreSQL database; its URL and the generation time."""
    url = new_postgres_database("bench_q")
    started = time.monotonic()
    engine = make_engine(url)
    upgrade(engine)
    generate(engine, days)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return url, time.monotonic() - started


def drop_postgres(url: str) -> None:
    """Drop a database made by :func:`new_postgres_database`."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
