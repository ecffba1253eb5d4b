"""Set up fleet data through the data-access functions, for storage tests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fleet_api.models.exhibits import ExhibitCreate
from fleet_api.models.schools import SchoolCreate
from fleet_api.models.visits import VisitCreate
from fleet_api.store.exhibits import create_exhibit
from fleet_api.store.schools import create_school
from fleet_api.store.visits import create_visit
from fleet_api.tables import count_records, quarantine
from tests.fleet_api.builders import T0
from tests.fleet_api.tokens import TEST_ACTOR


def register(engine: Engine, *exhibit_ids: str) -> None:
    """Register exhibits by id."""
    with Session(engine) as session:
        for exhibit_id in exhibit_ids:
            create_exhibit(
                session,
                exhibit=ExhibitCreate(id=exhibit_id, name=exhibit_id.title()),
                actor=TEST_ACTOR,
            )


def schedule(engine: Engine, *exhibit_ids: str, start_h: float = 0, hours: float = 2) -> int:
    """A visit of a new school, ``start_h`` hours after T0, taking ``exhibit_ids``."""
    with Session(engine) as session:
        school = create_school(
            session,
            school=SchoolCreate(name="Skola", municipality="Kuldīgas novads", region="Kurzeme"),
            actor=TEST_ACTOR,
        )
        visit = create_visit(
            session,
            visit=VisitCreate(
                school_id=school.id,
                starts_at=T0 + timedelta(hours=start_h),
                ends_at=T0 + timedelta(hours=start_h + hours),
                exhibit_ids=list(exhibit_ids),
            ),
            actor=TEST_ACTOR,
        )
    return visit.id


def stored_records(engine: Engine) -> list[tuple[str, int, int]]:
    """Every stored record as (exhibit_id, seq, count), sorted."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(count_records.c.exhibit_id, count_records.c.seq, count_records.c.count).order_by(
                count_records.c.exhibit_id, count_records.c.seq
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def quarantined(engine: Engine) -> list[tuple[str, str, bytes, str]]:
    """Every quarantine row as (reason, topic, payload, detail), in arrival order."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                quarantine.c.reason, quarantine.c.topic, quarantine.c.payload, quarantine.c.detail
            ).order_by(quarantine.c.id)
        )
        return [(r.reason, r.topic, bytes(r.payload), r.detail) for r in rows]


def record_count(engine: Engine) -> int:
    """How many count records are stored."""
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(count_records)).scalar_one()
