"""Read placements and check the rollups against the raw records, for storage tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from fleet_api.models.usage import VisitUsage
from fleet_api.store.rollups import rollups_from_raw, stored_rollups
from fleet_api.store.usage import visit_usage
from fleet_api.tables import count_records, session_records

Placed = tuple[int | None, str, datetime]
"""(attributed visit, time basis, corrected start)."""


def placements(engine: Engine, *, sessions: bool = False) -> dict[tuple[str, int], Placed]:
    """Every stored count (or session) record's placement by (exhibit_id, seq)."""
    table = session_records if sessions else count_records
    with engine.connect() as connection:
        return {
            (row.exhibit_id, row.seq): (
                row.attributed_visit_id,
                row.time_basis,
                row.corrected_start,
            )
            for row in connection.execute(
                select(
                    table.c.exhibit_id,
                    table.c.seq,
                    table.c.attributed_visit_id,
                    table.c.time_basis,
                    table.c.corrected_start,
                )
            )
        }


def visits_of(engine: Engine, *, sessions: bool = False) -> dict[tuple[str, int], int | None]:
    """Every stored record's attributed visit by (exhibit_id, seq)."""
    return {key: placed[0] for key, placed in placements(engine, sessions=sessions).items()}


def assert_rollups_match_records(engine: Engine) -> None:
    """The maintained rollups equal the rollups recomputed from every record's placement."""
    with engine.connect() as connection:
        stored, expected = stored_rollups(connection), rollups_from_raw(connection)
    assert stored.usage == expected.usage
    assert stored.sessions == expected.sessions
    assert stored.totals == expected.totals


def usage(engine: Engine, visit_id: int, now: datetime | None = None) -> VisitUsage:
    """GET /visits/{id}/usage without HTTP."""
    with Session(engine) as session:
        return visit_usage(session, visit_id=visit_id, now=now)


def totals(result: VisitUsage) -> dict[str, dict[str, int]]:
    """Interactions per exhibit and input."""
    return {e.exhibit_id: {i.input: i.count for i in e.inputs} for e in result.exhibits}
