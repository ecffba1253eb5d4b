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

from fleet_api.errors import InvalidRequest, VisitCancelled
from fleet_api.models.visits import VisitPublic, VisitStatus, VisitUpdate, check_window
from fleet_api.store.audit import Actor, changed_fields, record_change
from fleet_api.store.dialect import insert
from fleet_api.store.reattribution import reattribute_visit
from fleet_api.store.settle import settle_exhibits
from fleet_api.store.visits import (
    _audited,
    get_visit,
    link_programmes,
    lock_exhibits,
    refuse_overlap,
    require_programmes,
    require_school,
)
from fleet_api.tables import exhibit_assignments, visit_exhibits, visits


def update_visit(
    session: Session,
    *,
    visit_id: int,
    change: VisitUpdate,
    actor: Actor,
    now: datetime | None = None,
) -> VisitPublic:
    """Apply ``change``; UnknownVisit, UnknownReference, ExhibitBooked, InvalidRequest."""
    current = get_visit(session, visit_id=visit_id, now=now)
    given = change.model_dump(exclude_unset=True)
    starts_at = given.get("starts_at", current.starts_at)
    ends_at = given.get("ends_at", current.ends_at)
    try:
        check_window(starts_at, ends_at)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if "school_id" in given and given["school_id"] != current.school_id:
        require_school(session, given["school_id"])
    programme_ids = given.pop("programme_ids", None)
    if programme_ids is not None:
        require_programmes(session, sorted(set(programme_ids) - set(current.programme_ids)))
        link_programmes(session, visit_id, programme_ids)
    exhibit_ids = sorted(given.pop("exhibit_ids", current.exhibit_ids))
    moved = (starts_at, ends_at) != (current.starts_at, current.ends_at)
    regrouped = exhibit_ids != current.exhibit_ids
    if moved or regrouped:
        lock_exhibits(
            session,
            sorted({*exhibit_ids, *current.exhibit_ids}),
            in_service=sorted(set(exhibit_ids) - set(current.exhibit_ids)),
        )
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
        settle_exhibits(session.connection(), {*exhibit_ids, *current.exhibit_ids})
    changed = get_visit(session, visit_id=visit_id, now=now)
    before, after = changed_fields(_audited(current), _audited(changed))
    if after:
        record_change(
            session.connection(),
            actor=actor,
            action="visit.update",
            entity="visit",
            entity_id=visit_id,
            before=before,
            after=after,
            at=now,
        )
    session.commit()
    return changed


def set_status(
    session: Session,
    *,
    visit_id: int,
    status: VisitStatus,
    actor: Actor,
    reason: str | None,
    action: str,
    now: datetime | None = None,
    keep_reason: bool = True,
) -> VisitPublic:
    """Record what staff decided about a visit (cancelled, held, planned again), audited;
    the visit keeps ``reason`` as its status reason if ``keep_reason``. No commit."""
    current = get_visit(session, visit_id=visit_id, now=now)
    stored = session.execute(
        select(visits.c.status, visits.c.status_reason).where(visits.c.id == visit_id)
    ).one()
    status_reason = reason if keep_reason else None
    if stored.status == status.value and stored.status_reason == status_reason:
        return current
    session.execute(
        visits.update()
        .where(visits.c.id == visit_id)
        .values(status=status.value, status_reason=status_reason)
    )
    changed = get_visit(session, visit_id=visit_id, now=now)
    record_change(
        session.connection(),
        actor=actor,
        action=action,
        entity="visit",
        entity_id=visit_id,
        before={"status": current.status.value, "status_reason": stored.status_reason},
        after={"status": changed.status.value, "status_reason": status_reason},
        reason=reason,
        at=now,
    )
    return changed


def cancel_visit(
    session: Session, *, visit_id: int, reason: str, actor: Actor, now: datetime | None = None
) -> VisitPublic:
    """Cancel the visit, or mark one that has ended as not held; the reason is kept."""
    changed = set_status(
        session,
        visit_id=visit_id,
        status=VisitStatus.CANCELLED,
        actor=actor,
        reason=reason,
        action="visit.cancel",
        now=now,
    )
    session.commit()
    return changed


def reinstate_visit(
    session: Session, *, visit_id: int, reason: str, actor: Actor, now: datetime | None = None
) -> VisitPublic:
    """Undo a cancellation: the visit is planned again (held, if it has ended)."""
    current = get_visit(session, visit_id=visit_id, now=now)
    if current.status is not VisitStatus.CANCELLED:
        raise InvalidRequest(f"visit {visit_id} is not cancelled: nothing to reinstate")
    changed = set_status(
        session,
        visit_id=visit_id,
        status=VisitStatus.PLANNED,
        actor=actor,
        reason=reason,
        action="visit.reinstate",
        now=now,
        keep_reason=False,
    )
    session.commit()
    return changed


def refuse_cancelled(visit: VisitPublic) -> None:
    """VisitCancelled if ``visit`` is cancelled (its exhibits are not going anywhere)."""
    if visit.status is VisitStatus.CANCELLED:
        raise VisitCancelled(
            f"visit {visit.id} is cancelled ({visit.status_reason}): reinstate it first "
            f"(POST /visits/{visit.id}/reinstate)"
        )


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


def running_elsewhere(
    session: Session, *, visit_id: int, exhibit_ids: Sequence[str], at: datetime
) -> dict[str, int]:
    """The exhibits of ``exhibit_ids`` in another visit, not cancelled, running at ``at``."""
    v, ve = visits.c, visit_exhibits.c
    rows = session.execute(
        select(ve.exhibit_id, v.id)
        .join(visits, v.id == ve.visit_id)
        .where(
            ve.exhibit_id.in_(sorted(set(exhibit_ids))),
            v.id != visit_id,
            v.status != VisitStatus.CANCELLED.value,
            v.starts_at <= at,
            v.ends_at > at,
        )
    )
    return {row[0]: row[1] for row in rows}


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
