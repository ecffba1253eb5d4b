"""``fleet-api reattribute``: place every stored record again under this version's rules.

Records are placed when they arrive and again when something they depend on changes (a
visit, a clock reference, a neighbour in seq order). An upgrade that changes the rules
themselves leaves the records placed before it where the old rules put them: issue 16's
rules (a tag never beats a trusted clock; a never-synced record goes only where its bounds
allow, else it is unplaced) would otherwise apply only to records that arrive or change
afterwards, and a record the old 6 h tag grace put into the wrong visit would stay there.

This command re-attributes every visit's records and re-settles every exhibit's
never-synced records, in one transaction, and records in the audit trail how many
moved. It is idempotent (a second run moves nothing); it takes the steps a visit change
takes, for every visit at once. Run it once after upgrading (docs/deploy.md).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from fleet_api.store.audit import Actor, record_change
from fleet_api.store.reattribution import reattribute_visit
from fleet_api.store.settle import settle_exhibits
from fleet_api.tables import exhibits, visit_exhibits, visits


def reattribute_all(connection: Connection) -> tuple[int, int]:
    """Re-attribute every visit's records, then re-settle every exhibit's never-synced
    records; returns (records moved by visit windows, records moved by bounds)."""
    by_windows = 0
    rows = connection.execute(
        select(visits.c.id, visits.c.starts_at, visits.c.ends_at).order_by(visits.c.id)
    ).all()
    for visit_id, starts_at, ends_at in rows:
        exhibit_ids = list(
            connection.execute(
                select(visit_exhibits.c.exhibit_id).where(visit_exhibits.c.visit_id == visit_id)
            ).scalars()
        )
        by_windows += reattribute_visit(
            connection,
            visit_id=int(visit_id),
            exhibit_ids=exhibit_ids,
            windows=[(starts_at, ends_at)],
        )
    every_exhibit = list(connection.execute(select(exhibits.c.id)).scalars())
    by_bounds = settle_exhibits(connection, every_exhibit)
    return by_windows, by_bounds


def run(connection: Connection, actor: Actor) -> int:
    """``fleet-api reattribute`` in the caller's transaction; prints what moved."""
    by_windows, by_bounds = reattribute_all(connection)
    record_change(
        connection,
        actor=actor,
        action="fleet.reattribute",
        entity="fleet",
        entity_id="records",
        after={"moved_by_visit_windows": by_windows, "moved_by_bounds": by_bounds},
    )
    print(
        f"re-placed records under this version's rules: {by_windows} moved by visit "
        f"windows, {by_bounds} moved by bounds (unplaced ones: GET /unplaced)"
    )
    return 0
