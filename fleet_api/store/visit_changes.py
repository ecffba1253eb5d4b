"""Change a visit, and keep what the fleet told each exhibit about its visit.

A change of a visit's times or exhibits re-attributes, in the same transaction, every
record it may concern (:func:`fleet_api.store.reattribution.reattribute_visit`).
``exhibit_assignments`` holds the retained assignment last acknowledged by the broker
for each exhibit; ``visits.checked_out_at``/``checked_in_at`` when that was done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_api.errors import InvalidRequest
from fleet_api.models.visits import VisitPublic, VisitUpdate, check_window
from fleet_api.store.dialect import insert
from fleet_api.store.reattribution import reattribute_visit
from fleet_api.store.visits import get_visit, lock_exhibits, refuse_overlap, require_school
from fleet_api.tables import exhibit_assignments, visit_exhibits, visits


def update_visit(session: Session, *, visit_id: int, change: VisitUpdate) -> VisitPublic:
    """Apply ``change``; UnknownVisit, UnknownReference, ExhibitBooked, InvalidRequest."""
    current = get_visit(session, visit_id=visit_id)
    given = change.model_dump(exclude_unset=True)
    starts_at = given.get("starts_at", current.starts_at)
    ends_at = given.get("ends_at", current.ends_at)
    try:
        check_window(starts_at, ends_at)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if "school_id" in given:
        require_school(session, given["school_id"])
    exhibit_ids = sorted(given.pop("exhibit_ids", current.exhibit_ids))
    moved = (starts_at, ends_at) != (current.starts_at, current.ends_at)
    regrouped = exhibit_ids != current.exhibit_ids
    if moved or regrouped:
        lock_exhibits(session, sorted({*exhibit_ids, *current.exhibit_ids}))
        refuse_overlap(
            session,
            exhibit_ids=exhibit_ids,
            starts_at=starts_at,
            ends_at=ends_at,
            except_visit=visit_id,
        )
    if given:
        session.execute(visits.update().where(visits.c.id == visit_id).values(**given))
    if regrouped:
        session.execute(visit_exhibits.delete().where(visit_exhibits.c.visit_id == visit_id))
        session.execute(
            visit_exhibits.insert(),
            [{"visit_id": visit_id, "exhibit_id": exhibit_id} for exhibit_id in exhibit_ids],
        )
    if moved or regrouped:
        reattribute_visit(
            session.connection(),
            visit_id=visit_id,
            exhibit_ids={*exhibit_ids, *current.exhibit_ids},
            windows=[(current.starts_at, current.ends_at), (starts_at, ends_at)],
        )
    session.commit()
    return get_visit(session, visit_id=visit_id)


def assignments_of(session: Session, exhibit_ids: Sequence[str]) -> dict[str, int | None]:
    """The visit each exhibit was last told it is checked out to (None: checked in).

    Exhibits never told anything are absent.
    """
    rows = session.execute(
        select(exhibit_assignments.c.exhibit_id, exhibit_assignments.c.visit_id).where(
            exhibit_assignments.c.exhibit_id.in_(sorted(set(exhibit_ids)))
        )
    )
    return {row.exhibit_id: row.visit_id for row in rows}


def holding(session: Session, *, visit_id: int) -> list[str]:
    """The exhibits last told they are checked out to ``visit_id``, by id."""
    return list(
        session.execute(
            select(exhibit_assignments.c.exhibit_id)
            .where(exhibit_assignments.c.visit_id == visit_id)
            .order_by(exhibit_assignments.c.exhibit_id)
        ).scalars()
    )


def record_assignment(
    session: Session, *, exhibit_id: str, visit_id: int | None, issued_at: datetime
) -> None:
    """Remember that the broker acknowledged this retained assignment (no commit)."""
    statement = insert(session.connection(), exhibit_assignments)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["exhibit_id"],
            set_={
                "visit_id": statement.excluded.visit_id,
                "issued_at": statement.excluded.issued_at,
            },
        ),
        [{"exhibit_id": exhibit_id, "visit_id": visit_id, "issued_at": issued_at}],
    )


def mark_visit(
    session: Session,
    *,
    visit_id: int,
    checked_out_at: datetime | None,
    checked_in_at: datetime | None,
) -> None:
    """Set when the visit was checked out and in (no commit)."""
    session.execute(
        visits.update()
        .where(visits.c.id == visit_id)
        .values(checked_out_at=checked_out_at, checked_in_at=checked_in_at)
    )
