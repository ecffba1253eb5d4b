"""Attribution: which stored count records belong to a visit, summed per exhibit and input.

The rule today: a record belongs to the visit it is tagged with; an untagged record
(or one tagged with a visit that does not exist) belongs to the visit that took its
exhibit and whose [starts_at, ends_at) contains the record's ``start``. Every exhibit
of the visit is listed, and so is an exhibit whose records are tagged with the visit
though it was not booked for it. Clock re-basing and rollups will replace
:func:`visit_usage`'s query, and only it.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import exists, func, or_, select, union_all
from sqlalchemy.orm import Session

from fleet_api.models.usage import ExhibitUsage, InputUsage, VisitUsage
from fleet_api.store.visits import get_visit
from fleet_api.tables import count_records, visit_exhibits, visits


def visit_usage(session: Session, *, visit_id: int) -> VisitUsage:
    """Interactions of visit ``visit_id``; UnknownVisit if there is none."""
    visit = get_visit(session, visit_id=visit_id)
    records = count_records.c
    tagged = select(records.exhibit_id, records.input, records.count).where(
        records.visit_id == visit_id
    )
    # The two selects are disjoint (the second takes only untagged or dangling tags),
    # so UNION ALL neither loses nor double-counts, and each side can use its index.
    by_time = select(records.exhibit_id, records.input, records.count).where(
        or_(records.visit_id.is_(None), ~exists().where(visits.c.id == records.visit_id)),
        records.exhibit_id.in_(
            select(visit_exhibits.c.exhibit_id).where(visit_exhibits.c.visit_id == visit_id)
        ),
        records.start >= visit.starts_at,
        records.start < visit.ends_at,
    )
    attributed = union_all(tagged, by_time).subquery()
    sums = session.execute(
        select(attributed.c.exhibit_id, attributed.c.input, func.sum(attributed.c.count)).group_by(
            attributed.c.exhibit_id, attributed.c.input
        )
    ).all()
    per_exhibit: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for exhibit_id in visit.exhibit_ids:
        per_exhibit[exhibit_id] = {}
    for exhibit_id, input_name, count in sums:
        per_exhibit[exhibit_id][input_name] = int(count)
    exhibits = [
        ExhibitUsage(
            exhibit_id=exhibit_id,
            total=sum(inputs.values()),
            inputs=[InputUsage(input=name, count=inputs[name]) for name in sorted(inputs)],
        )
        for exhibit_id, inputs in sorted(per_exhibit.items())
    ]
    return VisitUsage(
        visit_id=visit.id,
        starts_at=visit.starts_at,
        ends_at=visit.ends_at,
        total=sum(exhibit.total for exhibit in exhibits),
        exhibits=exhibits,
    )
